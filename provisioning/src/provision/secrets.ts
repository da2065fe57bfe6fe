/**
 * Where the Wi-Fi password and the API key come from: a file, an environment
 * variable, or a prompt on a terminal — never the command line, where every user
 * of the machine can read it (ps, shell history).
 */
import { readFileSync } from 'node:fs';
import { UsageError } from '@kiln/protocol';

function fromFile(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
  } catch (e) {
    throw new UsageError('secret-file', `cannot read the ${what} file ${path}: ${(e as Error).message}`);
  }
}

/** Reads a line from the terminal without echoing it. */
export function promptHidden(question: string): Promise<string> {
  const stdin = process.stdin;
  return new Promise((resolve, reject) => {
    process.stderr.write(question);
    let value = '';
    stdin.setRawMode(true);
    stdin.resume();
    const done = (err?: Error) => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolve(value);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003') return done(new UsageError('interrupted', 'interrupted at the password prompt'));
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1);
        else value += ch;
      }
    };
    stdin.on('data', onData);
  });
}

export interface SecretSources {
  file?: string | undefined;
  env: string;
  what: string;
  /** Prompt on a terminal when neither is given. */
  prompt?: string | undefined;
}

/** The secret from --…-file, else the environment, else a prompt on a TTY; undefined if none. */
export async function readSecret(s: SecretSources): Promise<string | undefined> {
  if (s.file) return fromFile(s.file, s.what);
  const env = process.env[s.env];
  if (env !== undefined && env !== '') return env;
  if (s.prompt && process.stdin.isTTY) return promptHidden(s.prompt);
  return undefined;
}
