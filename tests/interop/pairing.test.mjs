// Interop: the official WalletConnect SignClient 2.25.0 (dapp and wallet)
// pairing and exchanging a personal_sign request through Relaybox.
//
// Run: cargo build -p relaybox && cd tests/interop && npm ci && npm test
// See relay.mjs for RELAYBOX_BIN, RELAYBOX_INTEROP_TRACE and RELAYBOX_INTEROP_LOG.

import assert from "node:assert/strict";
import { after, afterEach, beforeEach, test } from "node:test";

import { startRelay } from "./relay.mjs";
import {
  ACCOUNT_ADDRESS,
  MESSAGE_HEX,
  SIGNATURE,
  closeClient,
  installSigner,
  newClient as newSignClient,
  pairAndSettle,
  personalSign,
  withTimeout,
} from "./wc.mjs";

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

function newClient(name, relayUrl) {
  return newSignClient(name, relayUrl, ctx.clients);
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
