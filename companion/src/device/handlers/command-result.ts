/** `command_result`: completes the command and publishes it on kiln/v1/<id>/cmd/<cmd>/result. */
import type { CommandResult } from '@kiln/protocol';
import type { HubContext } from '../context.ts';
import type { Session } from '../session.ts';

export function handleCommandResult(ctx: HubContext, session: Session, msg: CommandResult): void {
  ctx.commands.onResult(session, msg);
}
