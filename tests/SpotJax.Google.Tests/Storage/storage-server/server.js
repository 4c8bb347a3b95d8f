"use strict";
// The Cloud Storage JSON API server of firebase-tools, for the SpotJax storage tests.
//
//   NODE_PATH=<install folder>/node_modules node server.js PORT DATA_DIR
//
// `firebase emulators:start --only storage` cannot run here: it wants Java 21 and downloads a
// rules runtime. The JSON API server itself needs neither, so this launcher subclasses the
// emulator so that start() only builds the express app and listens on the loopback. Blobs go to
// DATA_DIR (the emulator's default is one folder under the system temp folder shared by every
// instance). It prints "ready" once it listens and exits on SIGTERM or when stdin closes, so a
// test host that dies without stopping it does not leave it running.

const { StorageEmulator } = require("firebase-tools/lib/emulator/storage");
const { createApp } = require("firebase-tools/lib/emulator/storage/server");
const { EmulatorRegistry } = require("firebase-tools/lib/emulator/registry");

const [portArg, dataDir] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || port > 65535 || !dataDir) {
  console.error("usage: node server.js PORT DATA_DIR");
  process.exit(2);
}

const host = "127.0.0.1";

class LoopbackStorageServer extends StorageEmulator {
  // Called from the base constructor, so it reads the module-level dataDir, not an own field.
  getPersistenceTmpDir() {
    return dataDir;
  }

  async start() {
    const app = await createApp("spotjax-test", this);
    await new Promise((resolve, reject) => {
      this.server = app.listen(port, host, resolve).on("error", reject);
    });
  }

  async stop() {
    await new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

async function main() {
  const server = new LoopbackStorageServer({ projectId: "spotjax-test", host, port });
  // The object resources' selfLink and mediaLink are built from the registered instance.
  EmulatorRegistry.set(server.getName(), server);
  await server.start();
  console.log(`ready http://${host}:${port}/storage/v1/`);

  const exit = () => process.exit(0);
  process.on("SIGTERM", exit);
  process.on("SIGINT", exit);
  process.stdin.on("end", exit);
  process.stdin.on("close", exit);
  process.stdin.resume();
}

main().catch((error) => {
  console.error(error && error.stack ? error.stack : String(error));
  process.exit(1);
});
