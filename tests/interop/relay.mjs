// Starts a Relaybox binary for one test: fresh temp data dir, port 0.
//
//   const relay = await startRelay();
//   const node = await startRelay({ env: { RELAYBOX_STORE_BACKEND: "redis", ... } });
//   relay.url        ws://127.0.0.1:PORT (what clients should use)
//   await relay.restart()   same data dir, same port
//   await relay.stop()      kills it and removes the data dir
//
// Env:
//   RELAYBOX_BIN            relay binary (default ../../target/debug/relaybox)
//   RELAYBOX_INTEROP_TRACE  "1": put a transparent TCP proxy in front of the
//                           relay and print every WebSocket frame it sees, both
//                           ways, to stderr (clients then connect to the proxy).
//   RELAYBOX_INTEROP_LOG    "1": pass the relay's stderr through live.
//
// The relay's stderr is always kept; `relay.logs()` returns it, so a failing
// test can print it.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const RELAY_BIN =
  process.env.RELAYBOX_BIN || path.resolve(HERE, "../../target/debug/relaybox");

const START_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

// Every relay child still alive; killed if the test process exits early.
const live = new Set();
process.on("exit", () => {
  for (const child of live) {
    try {
      child.kill("SIGKILL");
    } catch {
      /* already gone */
    }
  }
});

function spawnRelay({ listen, dataDir, publicUrl, label, logs, extraEnv }) {
  const args = ["serve", "--listen", listen, "--data-dir", dataDir];
  if (publicUrl) args.push("--public-url", publicUrl);
  const env = { ...process.env, ...extraEnv };
  delete env.RELAYBOX_BIN;
  delete env.RELAYBOX_INTEROP_TRACE;
  delete env.RELAYBOX_INTEROP_LOG;
  const child = spawn(RELAY_BIN, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.on("exit", () => live.delete(child));

  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk) => {
    logs.push(chunk);
    if (process.env.RELAYBOX_INTEROP_LOG === "1") process.stderr.write(`[${label}] ${chunk}`);
  });

  return new Promise((resolve, reject) => {
    let out = "";
    let done = false;
    const finish = (err, addr) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        child.kill("SIGKILL");
        reject(err);
      } else {
        resolve({ child, addr });
      }
    };
    const timer = setTimeout(
      () => finish(new Error(`relay did not print RELAYBOX_LISTEN within ${START_TIMEOUT_MS} ms\n${logs.join("")}`)),
      START_TIMEOUT_MS,
    );
    child.on("error", (e) => finish(new Error(`cannot start ${RELAY_BIN}: ${e.message}`)));
    child.on("exit", (code, signal) =>
      finish(new Error(`relay exited (code ${code}, signal ${signal}) before listening\n${logs.join("")}`)),
    );
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const m = /^RELAYBOX_LISTEN=(\S+)$/m.exec(out);
      if (m) finish(null, m[1]);
    });
  });
}

function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), STOP_TIMEOUT_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// ---------- optional frame-tracing proxy ---------------------------------- //

// Parses RFC 6455 frames out of a byte stream (after the HTTP head) and calls
// onFrame(opcode, payloadBuffer) for each.
function frameParser(onFrame) {
  let buf = Buffer.alloc(0);
  let inHead = true;
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    if (inHead) {
      const end = buf.indexOf("\r\n\r\n");
      if (end < 0) return;
      onFrame("http", buf.subarray(0, end));
      buf = buf.subarray(end + 4);
      inHead = false;
    }
    for (;;) {
      if (buf.length < 2) return;
      const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0;
      let len = buf[1] & 0x7f;
      let off = 2;
      if (len === 126) {
        if (buf.length < 4) return;
        len = buf.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        if (buf.length < 10) return;
        len = Number(buf.readBigUInt64BE(2));
        off = 10;
      }
      const maskOff = off;
      if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i & 3)];
      buf = buf.subarray(off + len);
      onFrame(opcode, payload);
    }
  };
}

const OPCODES = { 0: "cont", 1: "text", 2: "binary", 8: "close", 9: "ping", 10: "pong" };

function describe(opcode, payload) {
  if (opcode === "http") return payload.toString("utf8").split("\r\n")[0];
  if (opcode === 1 || opcode === 0) return payload.toString("utf8");
  if (opcode === 8 && payload.length >= 2)
    return `code=${payload.readUInt16BE(0)} reason=${JSON.stringify(payload.subarray(2).toString("utf8"))}`;
  return `${payload.length} bytes`;
}

function startProxy(getTargetPort, trace) {
  let connNo = 0;
  const sockets = new Set();
  const t0 = Date.now();
  const server = net.createServer((client) => {
    const n = ++connNo;
    const upstream = net.connect(getTargetPort(), "127.0.0.1");
    sockets.add(client);
    sockets.add(upstream);
    const log = (dir) => (opcode, payload) =>
      trace(`+${((Date.now() - t0) / 1000).toFixed(3)}s #${n} ${dir} ${OPCODES[opcode] ?? opcode} ${describe(opcode, payload)}`);
    const up = frameParser(log("C->R"));
    const down = frameParser(log("R->C"));
    client.on("data", (d) => {
      up(d);
      upstream.write(d);
    });
    upstream.on("data", (d) => {
      down(d);
      client.write(d);
    });
    const close = (why) => () => {
      if (!client.destroyed || !upstream.destroyed) trace(`#${n} closed (${why})`);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("close", close("client"));
    upstream.on("close", close("relay"));
    client.on("error", () => {});
    upstream.on("error", () => {});
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

// ---------- public API ---------------------------------------------------- //

export async function startRelay({ label = "relay", env: extraEnv = {} } = {}) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "relaybox-interop-"));
  const logs = [];
  const traceOn = process.env.RELAYBOX_INTEROP_TRACE === "1";
  let relayPort = 0;
  let proxy = null;
  if (traceOn) {
    proxy = await startProxy(
      () => relayPort,
      (line) => process.stderr.write(`[${label} frames] ${line}\n`),
    );
  }
  const publicUrl = proxy ? `ws://127.0.0.1:${proxy.port}` : undefined;

  let child = null;
  let stopped = false;
  const launch = async (listen) => {
    const r = await spawnRelay({ listen, dataDir, publicUrl, label, logs, extraEnv });
    child = r.child;
    relayPort = Number(r.addr.split(":").pop());
  };

  try {
    await launch("127.0.0.1:0");
  } catch (e) {
    if (proxy) await proxy.close();
    rmSync(dataDir, { recursive: true, force: true });
    throw e;
  }
  const url = proxy ? publicUrl : `ws://127.0.0.1:${relayPort}`;

  return {
    url,
    dataDir,
    get relayPort() {
      return relayPort;
    },
    logs: () => logs.join(""),
    /** Stops the relay process and starts it again on the same port and data dir. */
    async restart() {
      if (stopped) throw new Error("relay already stopped");
      await stopChild(child);
      await launch(`127.0.0.1:${relayPort}`);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child) await stopChild(child);
      if (proxy) await proxy.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
