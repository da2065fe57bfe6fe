/**
 * The benches' child processes: each load generator, gateway or device fleet is a forked
 * role (`node --import tsx FILE ROLE`, its config in KILN_BENCH) that talks to the bench
 * over IPC: it says `{ready}` once, then answers each command with a message holding the
 * key asked for. Every role forked here is killed by stopRoles(), which the benches call
 * on exit and on Ctrl+C.
 */
import { type ChildProcess, fork } from 'node:child_process';

export type Reply = Record<string, unknown>;

export interface Role {
  proc: ChildProcess;
  ready: Promise<Reply>;
  ask(cmd: object, key: string): Promise<Reply>;
}

/** Every role forked so far (the benches wait on them or kill them). */
export const roles: ChildProcess[] = [];

export function forkRole(
  file: string,
  role: string,
  cfg: object,
  execArgv: readonly string[] = [],
  env: Record<string, string> = {},
): Role {
  const proc = fork(file, [role], {
    execArgv: ['--import', 'tsx', ...execArgv],
    env: { ...process.env, ...env, KILN_BENCH: JSON.stringify(cfg) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  roles.push(proc);
  const waiters: { key: string; resolve: (r: Reply) => void }[] = [];
  proc.on('message', (m: Reply) => {
    if (m.error) console.error(`[${role}]`, m.error);
    const i = waiters.findIndex((w) => w.key in m);
    if (i >= 0) waiters.splice(i, 1)[0]?.resolve(m);
  });
  const wait = (key: string) => new Promise<Reply>((resolve) => waiters.push({ key, resolve }));
  const ready = wait('ready');
  return {
    proc,
    ready,
    ask: (cmd, key) => {
      const p = wait(key);
      proc.send(cmd);
      return p;
    },
  };
}

export function stopRoles(): void {
  for (const c of roles) if (c.exitCode === null) c.kill('SIGKILL');
}
