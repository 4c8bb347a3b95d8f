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
//
// The emulator ignores upload preconditions, on which create-only writes rely (ifGenerationMatch=0:
// write only if no object of that name exists). A layer in front of it checks ifGenerationMatch on
// every upload that writes an object (one-shot, or the last request of a resumable upload, to which
// the precondition of its first request is carried through the upload URL) and answers 412 as Cloud
// Storage does. Writes of one object go through the emulator one at a time, so that the check and
// the write are one step, as they are in Cloud Storage.

const http = require("http");

const { StorageEmulator } = require("firebase-tools/lib/emulator/storage");
const { createApp } = require("firebase-tools/lib/emulator/storage/server");
const { parseObjectUploadMultipartRequest } = require("firebase-tools/lib/emulator/storage/multipart");
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
    const preconditions = new UploadPreconditions(this.adminStorageLayer, app);
    this.server = http.createServer((req, res) => preconditions.handle(req, res));
    await new Promise((resolve, reject) => {
      this.server.listen(port, host, resolve).on("error", reject);
    });
  }

  async stop() {
    await new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

const UPLOAD_PATH = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/;
const CONDITION_NOT_MET = "At least one of the pre-conditions you specified did not hold.";

class UploadPreconditions {
  constructor(storageLayer, app) {
    this.storageLayer = storageLayer;
    this.app = app;
    // "bucket/name" -> settles when the last write queued on that object is done.
    this.queues = new Map();
  }

  handle(req, res) {
    this.route(req, res).catch((error) => {
      console.error(error && error.stack ? error.stack : String(error));
      if (!res.headersSent) {
        res.statusCode = 500;
      }
      res.end();
    });
  }

  async route(req, res) {
    const url = new URL(req.url, `http://${host}`);
    const upload = UPLOAD_PATH.exec(url.pathname);
    if (!upload || (req.method !== "POST" && req.method !== "PUT")) {
      return this.app(req, res);
    }

    const query = url.searchParams;
    const expected = query.get("ifGenerationMatch");
    const uploadType = query.get("uploadType") || req.headers["x-goog-upload-protocol"];
    if (req.method === "POST" && uploadType === "resumable" && !query.has("upload_id")) {
      // The first request of a resumable upload writes nothing: its precondition goes with the upload URL.
      if (expected !== null) {
        carryToLocation(res, "ifGenerationMatch", expected);
      }
      return this.app(req, res);
    }

    let name = query.get("name");
    if (name === null && req.method === "POST" && uploadType === "multipart") {
      // The name is in the metadata part; the emulator's body parsers skip a body already read.
      req.body = await readBody(req);
      req._body = true;
      name = nameInMultipart(req.headers["content-type"], req.body);
    }

    if (name === null) {
      return this.app(req, res);
    }

    const bucket = decodeURIComponent(upload[1]);
    await this.oneAtATime(`${bucket}/${name}`, async () => {
      if (expected !== null && !this.holds(bucket, name, expected)) {
        if (!req._body) {
          await readBody(req);
        }
        return sendConditionNotMet(res);
      }

      await new Promise((resolve) => {
        res.once("finish", resolve);
        res.once("close", resolve);
        this.app(req, res);
      });
    });
  }

  holds(bucket, name, expected) {
    const stored = this.storageLayer.getMetadata(bucket, name);
    return expected === "0" ? stored === undefined : stored !== undefined && String(stored.generation) === expected;
  }

  async oneAtATime(key, work) {
    const mine = (this.queues.get(key) || Promise.resolve()).then(work);
    const tail = mine.catch(() => {});
    this.queues.set(key, tail);
    try {
      return await mine;
    } finally {
      if (this.queues.get(key) === tail) {
        this.queues.delete(key);
      }
    }
  }
}

function carryToLocation(res, parameter, value) {
  const setHeader = res.setHeader.bind(res);
  res.setHeader = (field, headerValue) => {
    if (String(field).toLowerCase() === "location") {
      const location = new URL(String(headerValue));
      location.searchParams.set(parameter, value);
      headerValue = location.toString();
    }
    return setHeader(field, headerValue);
  };
}

function nameInMultipart(contentType, body) {
  try {
    const { metadataRaw } = parseObjectUploadMultipartRequest(contentType || "", body);
    const name = JSON.parse(metadataRaw).name;
    return typeof name === "string" ? name : null;
  } catch {
    // Malformed: the emulator answers it.
    return null;
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on("data", (chunk) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

function sendConditionNotMet(res) {
  const body = JSON.stringify({
    error: {
      code: 412,
      message: CONDITION_NOT_MET,
      errors: [{ message: CONDITION_NOT_MET, domain: "global", reason: "conditionNotMet" }],
    },
  });
  res.writeHead(412, { "content-type": "application/json; charset=UTF-8", "content-length": Buffer.byteLength(body) });
  res.end(body);
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
