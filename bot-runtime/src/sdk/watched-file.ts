// A file a bot loads at start and loads again whenever it changes (a GeoIP database on a mounted volume):
// the loaded value is swapped in only once the new file loaded completely; a file that fails to load
// leaves the old value in use and is logged. Changes are noticed however they are made — written in
// place, replaced by rename, or swapped symlinks as Kubernetes updates ConfigMap, Secret and projected
// volumes (the file is a link to ..data/NAME, and ..data is renamed to point elsewhere) — by watching the
// file's folder and, for file systems without change events (NFS, some volume drivers), by looking at
// the file every `pollMs`. A change is acted on once the file stayed the same for `settleMs`, so a file
// still being written is not read half-way.
import { type FSWatcher, watch } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import type { Logger } from "pino";

export interface WatchedFileOptions {
  readonly log: Logger;
  /** What the file is, for log lines ("GeoIP database"). */
  readonly what: string;
  /** How often the file is looked at besides change events (ms; default 10 s; 0: never). */
  readonly pollMs?: number;
  /** How long the file must stay unchanged before it is loaded (ms; default 300). */
  readonly settleMs?: number;
  /** Called after each reload attempt (tests, metrics). */
  readonly onReload?: (outcome: { ok: true } | { ok: false; error: Error }) => void;
}

/** What identifies one version of a file: its inode (after symlinks), size and times. */
async function signature(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
  } catch {
    return undefined;
  }
}

export class WatchedFile<T> {
  readonly #path: string;
  readonly #load: (path: string) => Promise<T>;
  readonly #options: WatchedFileOptions;
  #value: T;
  /** The version loaded last, or the version that failed last (not tried again until it changes). */
  #seen: string | undefined;
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #settle: NodeJS.Timeout | undefined;
  #checking: Promise<void> | undefined;
  #again = false;
  #closed = false;

  private constructor(
    path: string,
    load: (path: string) => Promise<T>,
    options: WatchedFileOptions,
    value: T,
  ) {
    this.#path = path;
    this.#load = load;
    this.#options = options;
    this.#value = value;
  }

  /**
   * Loads the file and starts watching it. A failure here throws, naming the file (`options.what` and
   * its path): there is nothing to fall back on.
   */
  static async open<T>(
    path: string,
    load: (path: string) => Promise<T>,
    options: WatchedFileOptions,
  ): Promise<WatchedFile<T>> {
    let before: string | undefined;
    let value: T;
    try {
      before = await signature(path);
      value = await load(path);
    } catch (error) {
      throw new Error(`${options.what} ${JSON.stringify(path)}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const file = new WatchedFile(path, load, options, value);
    file.#seen = before;
    file.#start();
    return file;
  }

  /** The value of the file loaded last. */
  get value(): T {
    return this.#value;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    clearInterval(this.#poll);
    clearTimeout(this.#settle);
  }

  #start(): void {
    const folder = dirname(this.#path);
    try {
      // The folder, not the file: a renamed or re-linked file is a new inode a file watch would miss.
      this.#watcher = watch(folder, { persistent: false }, () => this.#changed());
      this.#watcher.on("error", (error) => {
        this.#options.log.warn(
          { err: error, folder },
          `${this.#options.what}: watching ${folder} failed; looking at ${basename(this.#path)} every ${this.#pollMs()} ms instead`,
        );
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (error) {
      this.#options.log.warn(
        { err: error, folder },
        `${this.#options.what}: cannot watch ${folder}; looking at the file every ${this.#pollMs()} ms`,
      );
    }
    const pollMs = this.#pollMs();
    if (pollMs > 0) {
      this.#poll = setInterval(() => this.#changed(), pollMs);
      this.#poll.unref();
    }
  }

  #pollMs(): number {
    return this.#options.pollMs ?? 10_000;
  }

  /** Something in the folder changed (or the poll came): check once the folder is quiet. */
  #changed(): void {
    if (this.#closed) return;
    clearTimeout(this.#settle);
    this.#settle = setTimeout(() => this.#check(), this.#options.settleMs ?? 300);
    this.#settle.unref();
  }

  #check(): void {
    if (this.#checking) {
      this.#again = true;
      return;
    }
    this.#checking = this.#reloadIfChanged().finally(() => {
      this.#checking = undefined;
      if (this.#again && !this.#closed) {
        this.#again = false;
        this.#changed();
      }
    });
  }

  async #reloadIfChanged(): Promise<void> {
    const now = await signature(this.#path);
    // Gone for now (a swap in progress, a volume being remounted): keep the old value, wait for it.
    if (now === undefined || now === this.#seen || this.#closed) return;
    // Still being written? Look again once it has been quiet.
    await new Promise((resolve) => setTimeout(resolve, this.#options.settleMs ?? 300).unref());
    if ((await signature(this.#path)) !== now) {
      this.#again = true;
      return;
    }
    this.#seen = now;
    try {
      const value = await this.#load(this.#path);
      if (this.#closed) return;
      this.#value = value;
      this.#options.log.info({ file: this.#path }, `${this.#options.what}: reloaded ${this.#path}`);
      this.#options.onReload?.({ ok: true });
    } catch (error) {
      this.#options.log.error(
        { err: error, file: this.#path },
        `${this.#options.what}: reloading ${this.#path} failed, still using the one loaded before: ${(error as Error).message}`,
      );
      this.#options.onReload?.({ ok: false, error: error as Error });
    }
  }
}
