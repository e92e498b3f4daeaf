//! The Lua scripts, built once. Each mailbox script is `lua/common.lua`
//! followed by its own file; each attestation script `lua/att_common.lua`
//! followed by its own. `Script::invoke_async` sends EVALSHA and loads the
//! script on NOSCRIPT (a restarted Redis forgets loaded scripts).

use std::sync::OnceLock;

use redis::Script;

const COMMON: &str = include_str!("lua/common.lua");
const ATT_COMMON: &str = include_str!("lua/att_common.lua");

/// The scripts this backend runs.
pub(crate) struct Scripts {
    pub publish: Script,
    pub read: Script,
    pub ack: Script,
    pub forget: Script,
    pub subscribe: Script,
    pub purge: Script,
    pub att_create: Script,
    pub att_answer: Script,
    pub att_sweep: Script,
}

/// The process-wide script set.
pub(crate) fn get() -> &'static Scripts {
    static SCRIPTS: OnceLock<Scripts> = OnceLock::new();
    SCRIPTS.get_or_init(|| {
        let mailbox = |body: &str| Script::new(&format!("{COMMON}\n{body}"));
        let attest = |body: &str| Script::new(&format!("{ATT_COMMON}\n{body}"));
        Scripts {
            publish: mailbox(include_str!("lua/publish.lua")),
            read: mailbox(include_str!("lua/read.lua")),
            ack: mailbox(include_str!("lua/ack.lua")),
            forget: mailbox(include_str!("lua/forget.lua")),
            // Plain Lua: it uses none of common.lua's helpers.
            subscribe: Script::new(include_str!("lua/subscribe.lua")),
            purge: Script::new(include_str!("lua/purge.lua")),
            att_create: attest(include_str!("lua/att_create.lua")),
            att_answer: attest(include_str!("lua/att_answer.lua")),
            att_sweep: attest(include_str!("lua/att_sweep.lua")),
        }
    })
}
