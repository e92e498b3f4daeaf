// Interop: the official WalletConnect SignClient 2.25.0 (dapp and wallet)
// pairing and exchanging a personal_sign request through Relaybox.
//
// Run: cargo build -p relaybox && cd tests/interop && npm ci && npm test
// See relay.mjs for RELAYBOX_BIN, RELAYBOX_INTEROP_TRACE and RELAYBOX_INTEROP_LOG.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, afterEach, beforeEach, test } from "node:test";

import { SignClient } from "@walletconnect/sign-client";

import { startRelay } from "./relay.mjs";

// No network here: skip Verify lookups and the telemetry INIT event.
process.env.IS_VITEST = "true";
// Core is a process-wide singleton per storage prefix; we want one per client.
process.env.DISABLE_GLOBAL_CORE = "true";

const LOG_LEVEL = process.env.WC_LOG_LEVEL || "error";
const STEP_TIMEOUT_MS = 20_000;

const ACCOUNT_ADDRESS = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";
const ACCOUNT = `eip155:1:${ACCOUNT_ADDRESS}`;
// A fixed, well-formed 65-byte signature; the wallet returns it verbatim.
const SIGNATURE = "0x" + "a1".repeat(32) + "b2".repeat(32) + "1b";
const MESSAGE_HEX = "0x" + Buffer.from("Relaybox interop: hello").toString("hex");

const NAMESPACES_REQUESTED = {
  eip155: {
    chains: ["eip155:1"],
    methods: ["personal_sign"],
    events: ["accountsChanged", "chainChanged"],
  },
};

// ---------- per-test fixture ---------------------------------------------- //

let ctx;

beforeEach(async () => {
  ctx = { clients: [], relay: null };
});

afterEach(async (t) => {
  for (const client of ctx.clients) await closeClient(client);
  if (ctx.relay) {
    // On failure, show what the relay logged.
    if (t.passed === false || process.env.RELAYBOX_INTEROP_LOG === "1") {
      process.stderr.write(
        `---- relay stderr (${t.name}) ----\n${ctx.relay.logs()}\n` +
          `---- rerun with RELAYBOX_INTEROP_TRACE=1 (and RUST_LOG=relaybox=debug) to see every frame ----\n`,
      );
    }
    await ctx.relay.stop();
  }
});

// A failed step can leave SignClient timers behind (e.g. the 5-minute expiry
// of an unanswered proposal) that would keep this file's process alive until
// the runner's 120-s timeout. Clients and relays are closed by then, so exit
// if anything still holds the event loop a moment after the last test.
after(() => {
  setTimeout(() => process.exit(), 2_000).unref();
});

async function newClient(name, relayUrl) {
  const suffix = randomBytes(4).toString("hex");
  const client = await SignClient.init({
    projectId: "relaybox-interop-project",
    relayUrl,
    logger: LOG_LEVEL,
    telemetryEnabled: false,
    customStoragePrefix: `relaybox-interop-${name}-${suffix}`,
    // In-memory key-value store, a fresh one per client: nothing is written
    // to disk (a file store keeps flushing after the test and would leave
    // directories behind), and no two clients share state.
    storageOptions: { database: ":memory:" },
    metadata: {
      name: `Relaybox interop ${name}`,
      description: `Relaybox interop test ${name}`,
      url: `https://${name}.relaybox.invalid`,
      icons: [`https://${name}.relaybox.invalid/icon.png`],
    },
  });
  ctx.clients.push(client);
  return client;
}

// SignClient 2.25 has no destroy(): close the socket and stop the 5-s pulse
// so that nothing keeps the process alive.
async function closeClient(client) {
  try {
    await client.core.relayer.transportClose();
  } catch {
    /* already closed */
  }
  client.core.heartbeat.stop();
}

function withTimeout(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function nextEvent(emitter, event, what = event) {
  return withTimeout(new Promise((resolve) => emitter.once(event, resolve)), what);
}

async function waitFor(predicate, what, ms = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The wallet answers every personal_sign with SIGNATURE; records what it saw.
function installSigner(wallet) {
  const seen = [];
  wallet.on("session_request", async (event) => {
    seen.push(event);
    const { topic, id, params } = event;
    if (params.request.method !== "personal_sign") {
      await wallet.respond({
        topic,
        response: { id, jsonrpc: "2.0", error: { code: 4200, message: "unsupported" } },
      });
      return;
    }
    await wallet.respond({ topic, response: { id, jsonrpc: "2.0", result: SIGNATURE } });
  });
  return seen;
}

// Pairs dapp and wallet and waits until both sides consider the session settled.
async function pairAndSettle(dapp, wallet) {
  const proposalSeen = nextEvent(wallet, "session_proposal", "wallet session_proposal");
  const { uri, approval } = await withTimeout(
    dapp.connect({ optionalNamespaces: NAMESPACES_REQUESTED }),
    "dapp connect()",
  );
  assert.ok(uri && uri.startsWith("wc:"), `pairing uri: ${uri}`);

  await withTimeout(wallet.pair({ uri }), "wallet pair()");
  const proposal = await proposalSeen;
  assert.deepEqual(proposal.params.optionalNamespaces.eip155.methods, ["personal_sign"]);

  const { topic: walletTopic } = await withTimeout(
    wallet.approve({
      id: proposal.id,
      namespaces: {
        eip155: {
          chains: ["eip155:1"],
          accounts: [ACCOUNT],
          methods: ["personal_sign"],
          events: ["accountsChanged", "chainChanged"],
        },
      },
    }),
    "wallet approve()",
  );

  // Dapp side: approval() resolves once it has received the settle request (tag 1102).
  const session = await withTimeout(approval(), "dapp approval() (session settle)");
  assert.equal(session.topic, walletTopic, "both sides agree on the session topic");
  assert.deepEqual(session.namespaces.eip155.accounts, [ACCOUNT]);

  // Wallet side: the settle response (tag 1103) marks the session acknowledged.
  // The wallet never subscribes to the session topic itself; it gets 1103 only
  // because wc_approveSession subscribed it implicitly.
  await waitFor(
    () => wallet.session.get(walletTopic).acknowledged === true,
    "wallet session acknowledged (settle response 1103)",
  );
  return session.topic;
}

function personalSign(dapp, topic) {
  return dapp.request({
    topic,
    chainId: "eip155:1",
    request: { method: "personal_sign", params: [MESSAGE_HEX, ACCOUNT_ADDRESS] },
  });
}

// ---------- tests ---------------------------------------------------------- //

test("dapp and wallet pair through the relay and round-trip personal_sign", async () => {
  ctx.relay = await startRelay({ label: "relay:online" });
  const dapp = await newClient("dapp", ctx.relay.url);
  const wallet = await newClient("wallet", ctx.relay.url);
  const seen = installSigner(wallet);

  const topic = await pairAndSettle(dapp, wallet);

  const result = await withTimeout(personalSign(dapp, topic), "dapp request(personal_sign)");
  assert.equal(result, SIGNATURE);
  assert.equal(seen.length, 1, "wallet saw exactly one session_request");
  assert.equal(seen[0].topic, topic);
  assert.deepEqual(seen[0].params.request.params, [MESSAGE_HEX, ACCOUNT_ADDRESS]);
  assert.equal(seen[0].params.chainId, "eip155:1");
});

test("a request sent while the wallet is offline is queued and delivered when it reconnects", async () => {
  ctx.relay = await startRelay({ label: "relay:offline" });
  const dapp = await newClient("dapp", ctx.relay.url);
  const wallet = await newClient("wallet", ctx.relay.url);
  const seen = installSigner(wallet);

  const topic = await pairAndSettle(dapp, wallet);

  // Wallet goes offline.
  await withTimeout(wallet.core.relayer.transportClose(), "wallet transportClose()");
  assert.equal(wallet.core.relayer.connected, false, "wallet socket closed");

  // Dapp sends; wait until the relay has accepted the publish (tag 1108).
  const published = new Promise((resolve) => {
    const onPublish = (req) => {
      if (req?.params?.topic === topic && req?.params?.tag === 1108) {
        dapp.core.relayer.events.off("relayer_publish", onPublish);
        resolve(req);
      }
    };
    dapp.core.relayer.events.on("relayer_publish", onPublish);
  });
  const pending = personalSign(dapp, topic);
  let settled = false;
  pending.then(
    () => (settled = true),
    () => (settled = true),
  );
  await withTimeout(published, "relay accepted the dapp's irn_publish (tag 1108)");

  // Give a misbehaving relay a moment to (wrongly) answer without the wallet.
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(seen.length, 0, "wallet must not see the request while offline");
  assert.equal(settled, false, "dapp request must still be pending while the wallet is offline");

  // Wallet comes back: it re-subscribes, the relay pushes the queued request.
  await withTimeout(wallet.core.relayer.transportOpen(), "wallet transportOpen()");
  assert.equal(wallet.core.relayer.connected, true, "wallet socket reopened");

  const result = await withTimeout(
    pending,
    "dapp request(personal_sign) after wallet reconnect",
  ).catch((e) => {
    e.message += ` (wallet saw ${seen.length} session_request)`;
    throw e;
  });
  assert.equal(result, SIGNATURE);
  assert.equal(seen.length, 1, "wallet saw the queued session_request exactly once");
  assert.equal(seen[0].topic, topic);
  assert.deepEqual(seen[0].params.request.params, [MESSAGE_HEX, ACCOUNT_ADDRESS]);
});
