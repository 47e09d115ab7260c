// Counts the lines of a file as it grows (the file outputs' events), reading only what was appended.
import { closeSync, existsSync, openSync, readSync } from "node:fs";

export class LineCounter {
  readonly #path: string;
  #fd: number | undefined;
  #offset = 0;
  #lines = 0;
  readonly #buffer = Buffer.alloc(1 << 20);

  constructor(path: string) {
    this.#path = path;
  }

  count(): number {
    if (this.#fd === undefined) {
      if (!existsSync(this.#path)) return 0;
      this.#fd = openSync(this.#path, "r");
    }
    for (;;) {
      const n = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, this.#offset);
      if (n === 0) return this.#lines;
      this.#offset += n;
      for (let i = this.#buffer.indexOf(10, 0); i >= 0 && i < n; i = this.#buffer.indexOf(10, i + 1))
        this.#lines++;
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }
}
