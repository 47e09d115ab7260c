// Preloaded (node --import) into every bot process petrelctl starts. petrelctl talks to its bots over
// an IPC channel; when petrelctl dies without stopping them (kill -9, a crash) the channel closes, and
// the bot stops itself the normal way (SIGTERM: drain, then exit) instead of running on as an orphan.
if (process.channel) {
  // The channel must not keep a bot alive once the bot has finished on its own.
  process.channel.unref();
  process.once("disconnect", () => process.kill(process.pid, "SIGTERM"));
}
