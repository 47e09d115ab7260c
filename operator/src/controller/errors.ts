// Short texts for errors in logs and conditions: an API server error as its status code and message.

export function errorText(error: unknown): string {
  const e = error as { code?: unknown; body?: unknown; message?: unknown };
  if (typeof e?.code === "number" && typeof e.body === "string") {
    try {
      const status = JSON.parse(e.body) as { message?: string };
      if (status.message) return `${e.code}: ${status.message}`;
    } catch {
      // not a Status object: fall through
    }
  }
  return typeof e?.message === "string" ? e.message : String(error);
}
