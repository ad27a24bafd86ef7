//! Replication statements (spec §2.13):
//!
//! ```text
//! CREATE REPLICA [IF NOT EXISTS] 'uuid' name [=] 'value' ...   (uri, token, tls_ca,
//!                                                              tls_capath, tls_cert, tls_key)
//! DROP REPLICA [IF EXISTS] 'uuid'
//! START REPL | START REPLICATION
//! STOP REPL | STOP REPLICATION
//! SUBSCRIBE 'primary-uuid'
//! UNSUBSCRIBE
//! ```
//!
//! Uuids are kept as written here; the executor checks their syntax (`failed to parse uuid`).

use crate::ast::*;
use crate::lexer::{Kw, Tok, P};
use crate::parser::Parser;
use amelie_common::Result;

impl Parser {
    /// `CREATE REPLICA ...` (current token is REPLICA).
    pub(crate) fn create_replica(&mut self) -> Result<Stmt> {
        self.advance();
        let if_not_exists = self.if_not_exists()?;
        let Some(id) = self.take_string() else {
            return self.fail("CREATE REPLICA <id> expected");
        };
        let mut r = CreateReplica {
            if_not_exists,
            id,
            ..Default::default()
        };
        loop {
            let name = match self.peek() {
                Tok::Eof | Tok::P(P::Semicolon) | Tok::Word(_, Some(Kw::Commit)) => break,
                Tok::Word(w, _) => w.to_ascii_lowercase(),
                _ => return self.fail("CREATE REPLICA id <option name> expected"),
            };
            self.advance();
            self.accept_p(P::Eq);
            let Some(value) = self.take_string() else {
                return self.fail(format!("CREATE REPLICA id {name} <string> expected"));
            };
            let slot = match name.as_str() {
                "uri" => &mut r.uri,
                "token" => &mut r.token,
                "tls_ca" => &mut r.tls_ca,
                "tls_capath" => &mut r.tls_capath,
                "tls_cert" => &mut r.tls_cert,
                "tls_key" => &mut r.tls_key,
                _ => return self.fail(format!("CREATE REPLICA: unrecognized option '{name}'")),
            };
            *slot = value;
        }
        if r.uri.is_empty() {
            return self.fail("CREATE REPLICA <uri> is not defined");
        }
        Ok(Stmt::CreateReplica(r))
    }

    /// `DROP REPLICA [IF EXISTS] 'uuid'` (current token is REPLICA).
    pub(crate) fn drop_replica(&mut self) -> Result<Stmt> {
        self.advance();
        let if_exists = self.if_exists()?;
        match self.take_string() {
            Some(id) => Ok(Stmt::DropReplica { if_exists, id }),
            None => self.fail("DROP REPLICA <id> expected"),
        }
    }

    /// `START|STOP REPL|REPLICATION` (current token is the verb).
    pub(crate) fn repl_ctl(&mut self) -> Result<Stmt> {
        let start = self.is_kw(Kw::Start);
        self.advance();
        if !(self.accept_kw(Kw::Repl) || self.accept_kw(Kw::Replication)) {
            return self.fail(if start {
                "START <REPL> expected"
            } else {
                "STOP <REPL> expected"
            });
        }
        Ok(if start {
            Stmt::StartRepl
        } else {
            Stmt::StopRepl
        })
    }

    /// `SUBSCRIBE 'uuid'` or `UNSUBSCRIBE` (current token is the verb).
    pub(crate) fn subscribe(&mut self) -> Result<Stmt> {
        let subscribe = self.is_kw(Kw::Subscribe);
        self.advance();
        if !subscribe {
            return Ok(Stmt::Unsubscribe);
        }
        match self.take_string() {
            Some(primary) => Ok(Stmt::Subscribe { primary }),
            None => self.fail("SUBSCRIBE <id> expected"),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::ast::*;
    use crate::tests::{err, one};

    const ID: &str = "00000000-0000-0000-0000-000000000001";

    #[test]
    fn create_replica() {
        assert_eq!(
            one(&format!("create replica '{ID}' uri '127.0.0.1:3481'")),
            Stmt::CreateReplica(CreateReplica {
                if_not_exists: false,
                id: ID.into(),
                uri: "127.0.0.1:3481".into(),
                ..Default::default()
            })
        );
        // every option, with and without `=`, any case; the last of a repeated one wins
        assert_eq!(
            one(&format!(
                "CREATE REPLICA IF NOT EXISTS \"{ID}\" URI = 'a' uri 'h:1' Token 't' \
                 tls_ca = 'ca' tls_capath 'cp' tls_cert 'c' TLS_KEY='k';"
            )),
            Stmt::CreateReplica(CreateReplica {
                if_not_exists: true,
                id: ID.into(),
                uri: "h:1".into(),
                token: "t".into(),
                tls_ca: "ca".into(),
                tls_capath: "cp".into(),
                tls_cert: "c".into(),
                tls_key: "k".into(),
            })
        );
        let s = one(&format!("create replica '{ID}' uri 'x'"));
        assert!(s.is_utility());
        assert_eq!(s.effect(), Effect::Server);
        // the id is checked by the executor, not here
        assert!(matches!(
            one("create replica 'abc' uri 'x'"),
            Stmt::CreateReplica(CreateReplica { ref id, .. }) if id == "abc"
        ));
    }

    #[test]
    fn create_replica_errors() {
        assert_eq!(err("create replica"), "CREATE REPLICA <id> expected");
        assert_eq!(err("create replica 123"), "CREATE REPLICA <id> expected");
        assert_eq!(
            err("create replica if not exists"),
            "CREATE REPLICA <id> expected"
        );
        assert_eq!(
            err("create replica if exists 'x'"),
            "IF <NOT> EXISTS expected"
        );
        assert_eq!(
            err(&format!("create replica '{ID}'")),
            "CREATE REPLICA <uri> is not defined"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' token 't'")),
            "CREATE REPLICA <uri> is not defined"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' 1")),
            "CREATE REPLICA id <option name> expected"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' 'localhost'")),
            "CREATE REPLICA id <option name> expected"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' uri")),
            "CREATE REPLICA id uri <string> expected"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' uri = 1")),
            "CREATE REPLICA id uri <string> expected"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' uri 'x' port '1'")),
            "CREATE REPLICA: unrecognized option 'port'"
        );
        assert_eq!(
            err(&format!("create replica '{ID}' uri 'x'; select 1")),
            "CTE and multi-statement utility commands are not supported"
        );
    }

    #[test]
    fn drop_replica() {
        assert_eq!(
            one(&format!("drop replica '{ID}'")),
            Stmt::DropReplica {
                if_exists: false,
                id: ID.into()
            }
        );
        assert_eq!(
            one("DROP REPLICA IF EXISTS 'x'"),
            Stmt::DropReplica {
                if_exists: true,
                id: "x".into()
            }
        );
        assert_eq!(err("drop replica"), "DROP REPLICA <id> expected");
        assert_eq!(err("drop replica 123"), "DROP REPLICA <id> expected");
        assert_eq!(err("drop replica if 'x'"), "IF <EXISTS> expected");
        assert_eq!(
            err("drop replica 'x' junk"),
            "unexpected token at the end of statement"
        );
    }

    #[test]
    fn start_stop() {
        for sql in ["start repl", "START REPLICATION", "start Repl;"] {
            assert_eq!(one(sql), Stmt::StartRepl, "{sql}");
        }
        for sql in ["stop repl", "STOP REPLICATION"] {
            assert_eq!(one(sql), Stmt::StopRepl, "{sql}");
        }
        assert_eq!(err("start"), "START <REPL> expected");
        assert_eq!(err("start replica"), "START <REPL> expected");
        assert_eq!(err("stop 1"), "STOP <REPL> expected");
        assert_eq!(
            err("start repl now"),
            "unexpected token at the end of statement"
        );
        assert_eq!(one("start repl").effect(), Effect::Server);
    }

    #[test]
    fn subscribe() {
        assert_eq!(
            one(&format!("subscribe '{ID}'")),
            Stmt::Subscribe { primary: ID.into() }
        );
        assert_eq!(one("UNSUBSCRIBE"), Stmt::Unsubscribe);
        assert_eq!(err("subscribe"), "SUBSCRIBE <id> expected");
        assert_eq!(err("subscribe x"), "SUBSCRIBE <id> expected");
        assert_eq!(
            err("unsubscribe 'x'"),
            "unexpected token at the end of statement"
        );
        assert!(one("unsubscribe").is_utility());
        assert_eq!(one("subscribe 'x'").effect(), Effect::Server);
    }

    #[test]
    fn effects() {
        let effect = |sql: &str| crate::parse(sql).unwrap().effect();
        for sql in [
            "select 1",
            "show all",
            "show replicas",
            "watch 1 = 1",
            "explain insert into t values (1)",
            "with a as (select 1) select * from a",
            "",
        ] {
            assert_eq!(effect(sql), Effect::Read, "{sql}");
        }
        for sql in [
            "set format to 'json'",
            "create user u",
            "create token u",
            "checkpoint",
            "drop replica 'x'",
            "stop repl",
            "unsubscribe",
        ] {
            assert_eq!(effect(sql), Effect::Server, "{sql}");
        }
        for sql in [
            "insert into t values (1)",
            "update t set a = 1",
            "delete from t",
            "select 1; insert into t values (1)",
            "with a as (insert into t values (1) returning *) select * from a",
            "with a as (select 1) delete from t",
            "create table t (id int primary key)",
            "drop table t",
            "alter table t rename to u",
            "truncate t",
            "create index i on t (a)",
            "create schema s",
            "create node",
            "drop node 'x'",
        ] {
            assert_eq!(effect(sql), Effect::Write, "{sql}");
        }
    }
}
