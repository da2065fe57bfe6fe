/**
 * `kiln …` (or any program) as a child process of a test, collecting what it prints.
 * Asynchronous on purpose: the boards and gateways a test talks to usually live in the
 * test's own process, and a synchronous spawn would stall them. Each child is killed
 * after its timeout, and killChildren() ends those still running (afterAll/afterEach).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The `kiln` executable of this checkout. */
export const KILN = fileURLToPath(new URL('../../cli/bin/kiln.js', import.meta.url));

export interface ChildOptions {
  /** Added to this process's environment. */
  env?: Record<string, string>;
  cwd?: string;
  /** Killed (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number;
}

export interface ChildResult {
  /** The exit code; -1 when a signal ended the child (its timeout, or killChildren). */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningChild {
  child: ChildProcess;
  /** Everything printed so far. */
  readonly stdout: string;
  readonly stderr: string;
  /** Settles when the child has exited and its output is complete. */
  done: Promise<ChildResult>;
}

const children = new Set<ChildProcess>();

/** Starts a program without waiting for it; its stdin is a pipe (for keys a test types). */
export function startChild(cmd: string, args: string[], options: ChildOptions = {}): RunningChild {
  const child = spawn(cmd, args, {
    ...(options.cwd ? { cwd: options.cwd } : {}),
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
  const done = new Promise<ChildResult>((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      resolve({ code: code ?? -1, signal, stdout, stderr });
    });
  });
  return {
    child,
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    done,
  };
}

/** Runs a program to its end, with stdin closed at once. */
export function runChild(cmd: string, args: string[], options: ChildOptions = {}): Promise<ChildResult> {
  const running = startChild(cmd, args, options);
  running.child.stdin?.end();
  return running.done;
}

/** `kiln ARGS` on this Node, to its end. */
export function runKiln(args: string[], options: ChildOptions = {}): Promise<ChildResult> {
  return runChild(process.execPath, [KILN, ...args], options);
}

/** `kiln ARGS` on this Node, left running. */
export function startKiln(args: string[], options: ChildOptions = {}): RunningChild {
  return startChild(process.execPath, [KILN, ...args], options);
}

/** Kills every child still running. */
export function killChildren(): void {
  for (const c of children) c.kill('SIGKILL');
}
