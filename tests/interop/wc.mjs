// Helpers shared by the interop tests: SignClient set-up and tear-down,
// timeouts, the signing wallet, pairing until the session is settled, and
// a personal_sign request. Used by pairing.test.mjs (one relay) and
// cluster.test.mjs (two relay nodes on Redis).

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

import { SignClient } from "@walletconnect/sign-client";

// No network here: skip Verify lookups and the telemetry INIT event.
process.env.IS_VITEST = "true";
// Core is a process-wide singleton per storage prefix; we want one per client.
process.env.DISABLE_GLOBAL_CORE = "true";

const LOG_LEVEL = process.env.WC_LOG_LEVEL || "error";
export const STEP_TIMEOUT_MS = 20_000;

export const ACCOUNT_ADDRESS = "0x8ba1f109551bD432803012645Ac136ddd64DBA72";
export const ACCOUNT = `eip155:1:${ACCOUNT_ADDRESS}`;
// A fixed, well-formed 65-byte signature; the wallet returns it verbatim.
export const SIGNATURE = "0x" + "a1".repeat(32) + "b2".repeat(32) + "1b";
export const MESSAGE_HEX = "0x" + Buffer.from("Relaybox interop: hello").toString("hex");

export const NAMESPACES_REQUESTED = {
  eip155: {
    chains: ["eip155:1"],
    methods: ["personal_sign"],
    events: ["accountsChanged", "chainChanged"],
  },
};

export async function newClient(name, relayUrl, registry) {
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
  registry.push(client);
  return client;
}

// SignClient 2.25 has no destroy(): close the socket and stop the 5-s pulse
// so that nothing keeps the process alive.
export async function closeClient(client) {
  try {
    await client.core.relayer.transportClose();
  } catch {
    /* already closed */
  }
  client.core.heartbeat.stop();
}

export function withTimeout(promise, what, ms = STEP_TIMEOUT_MS) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export function nextEvent(emitter, event, what = event) {
  return withTimeout(new Promise((resolve) => emitter.once(event, resolve)), what);
}

export async function waitFor(predicate, what, ms = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// The wallet answers every personal_sign with SIGNATURE; records what it saw.
export function installSigner(wallet) {
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
export async function pairAndSettle(dapp, wallet) {
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

export function personalSign(dapp, topic) {
  return dapp.request({
    topic,
    chainId: "eip155:1",
    request: { method: "personal_sign", params: [MESSAGE_HEX, ACCOUNT_ADDRESS] },
  });
}

