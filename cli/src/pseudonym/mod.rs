//! Pseudonyms under rules version 2 (SPEC §6.3): the service that holds
//! the key (`service`) and the client that asks it for the pseudonyms of
//! ID numbers, blinded, and checks every answer against the key the ledger
//! names (`client`).

pub mod client;
pub mod service;
