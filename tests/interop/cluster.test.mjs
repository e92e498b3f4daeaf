// Interop in cluster mode: the official SignClient 2.25.0 with the dapp on
// relay node A and the wallet on relay node B, both nodes sharing one
// redis-server (store.backend = "redis"). Pairing, session settlement and a
// personal_sign round trip all cross nodes; then the wallet goes offline and
// the request the dapp sends meanwhile reaches it when it reconnects.
//
// Skipped, with a message, only when redis-server is not installed
// (tests/run-all.sh installs it, so CI runs it).

import assert from "node:assert/strict";
import { after, afterEach, beforeEach, test } from "node:test";

import { redisAvailable, startRedis } from "./redis.mjs";
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

const NO_REDIS = redisAvailable()
  ? false
  : "redis-server is not installed (apt-get install redis-server); cluster interop skipped";
if (NO_REDIS) process.stderr.write(`SKIPPED: ${NO_REDIS}\n`);

let ctx;

beforeEach(async () => {
  ctx = { clients: [], relays: [], redis: null };
});

afterEach(async (t) => {
  for (const client of ctx.clients) await closeClient(client);
  for (const relay of ctx.relays) {
    if (t.passed === false || process.env.RELAYBOX_INTEROP_LOG === "1") {
      process.stderr.write(`---- ${relay.label} stderr (${t.name}) ----\n${relay.logs()}\n`);
    }
    await relay.stop();
  }
  if (ctx.redis) await ctx.redis.stop();
});

after(() => {
  setTimeout(() => process.exit(), 2_000).unref();
});

async function twoNodes() {
  ctx.redis = await startRedis();
  const env = { RELAYBOX_STORE_BACKEND: "redis", RELAYBOX_STORE_REDIS_URL: ctx.redis.url };
  for (const label of ["node:A", "node:B"]) {
    const relay = await startRelay({ label, env });
    relay.label = label;
    ctx.relays.push(relay);
  }
  return ctx.relays;
}

test("dapp on node A and wallet on node B pair and round-trip personal_sign", { skip: NO_REDIS }, async () => {
  const [a, b] = await twoNodes();
  const dapp = await newSignClient("dapp", a.url, ctx.clients);
  const wallet = await newSignClient("wallet", b.url, ctx.clients);
  const seen = installSigner(wallet);

  const topic = await pairAndSettle(dapp, wallet);
  const result = await withTimeout(personalSign(dapp, topic), "dapp request(personal_sign)");
  assert.equal(result, SIGNATURE);
  assert.equal(seen.length, 1, "wallet saw exactly one session_request");
  assert.deepEqual(seen[0].params.request.params, [MESSAGE_HEX, ACCOUNT_ADDRESS]);

  // The wallet goes offline; the dapp's next request waits in Redis and
  // reaches the wallet on node B when it comes back.
  await withTimeout(wallet.core.relayer.transportClose(), "wallet transportClose()");
  const pending = personalSign(dapp, topic);
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(seen.length, 1, "wallet must not see the request while offline");
  await withTimeout(wallet.core.relayer.transportOpen(), "wallet transportOpen()");
  assert.equal(await withTimeout(pending, "personal_sign after reconnect"), SIGNATURE);
  assert.equal(seen.length, 2, "the queued request arrived exactly once");
});
