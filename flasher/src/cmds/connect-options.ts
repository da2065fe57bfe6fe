/** Options every device command shares, and opening a session with them. */
import type { EventSink } from '../events.ts';
import { type ConnectOptions, connect, type FlasherSession } from '../loader/session.ts';

export interface DeviceOptions extends ConnectOptions {
  onEvent?: EventSink;
}

/** Connects, reports it, runs `body`, and always closes the port. */
export async function withSession<T>(options: DeviceOptions, body: (s: FlasherSession) => Promise<T>): Promise<T> {
  const emit = options.onEvent ?? (() => {});
  const port = typeof options.port === 'string' ? options.port : options.port.port;
  emit({ type: 'connecting', port });
  const session = await connect(options);
  try {
    emit({ type: 'connected', port, chip: session.target.name, description: session.description });
    return await body(session);
  } finally {
    await session.close();
  }
}
