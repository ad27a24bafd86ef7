//! Compute nodes at run time: `CREATE [COMPUTE] NODE`, `DROP NODE` and the node views of
//! `SHOW NODES | CLUSTER | NODE 'uuid'`, `system.nodes()` and `system.node(uuid)`.
//!
//! A node is a logged catalog change ([`DdlOp::CreateNode`], [`DdlOp::DropNode`]) applied
//! under the exclusive control lock: creating one starts its thread at once, dropping one
//! (only while no partition lives on it) stops it. Tables created afterwards get one
//! partition per node.

use amelie_catalog::{Catalog, DdlOp, Node};
use amelie_common::random::uuid_v4;
use amelie_common::{Error, Json, Result};
use amelie_parser::Stmt;

/// Parses a uuid in its canonical `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` hex form and returns
/// it in lower case.
pub fn parse_uuid(s: &str) -> Result<String> {
    let ok = s.len() == 36
        && s.bytes().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == b'-',
            _ => c.is_ascii_hexdigit(),
        });
    if !ok {
        return Err(Error::syntax("failed to parse uuid"));
    }
    Ok(s.to_ascii_lowercase())
}

fn node_obj(n: &Node) -> Json {
    Json::Object(vec![("id".to_string(), Json::String(n.uuid.clone()))])
}

/// `SHOW NODES` / `system.nodes()`: `[{"id": "<uuid>"}, ...]` in creation order.
pub fn nodes_json(c: &Catalog) -> Json {
    Json::Array(c.nodes.iter().map(node_obj).collect())
}

/// `SHOW NODE 'uuid'` / `system.node(uuid)`: `{"id": "<uuid>"}`, or `null` when there is no
/// such node (or the text is not a uuid).
pub fn node_json(c: &Catalog, id: &str) -> Json {
    c.nodes
        .iter()
        .find(|n| n.uuid.eq_ignore_ascii_case(id))
        .map(node_obj)
        .unwrap_or(Json::Null)
}

/// The `frontends` of `SHOW STATUS`: the configured number of frontend workers.
pub fn frontends_of(config: &[(String, Json)]) -> i64 {
    config
        .iter()
        .find(|(n, _)| n == "frontends")
        .and_then(|(_, v)| match v {
            Json::Int(i) => Some(*i),
            _ => None,
        })
        .unwrap_or(1)
}

impl crate::Executor {
    /// Runs `CREATE NODE` / `DROP NODE`; `None` for any other statement.
    pub(crate) async fn node_stmt(&self, stmt: &Stmt) -> Option<Result<Option<String>>> {
        match stmt {
            Stmt::CreateNode { if_not_exists, id } => {
                Some(self.create_node_stmt(*if_not_exists, id.as_deref()).await)
            }
            Stmt::DropNode { if_exists, id } => Some(self.drop_node_stmt(*if_exists, id).await),
            _ => None,
        }
    }

    async fn create_node_stmt(
        &self,
        if_not_exists: bool,
        id: Option<&str>,
    ) -> Result<Option<String>> {
        let uuid = match id {
            Some(id) => parse_uuid(id)?,
            None => uuid_v4(),
        };
        if if_not_exists && self.catalog().nodes.iter().any(|n| n.uuid == uuid) {
            return Ok(None);
        }
        self.ddl(DdlOp::CreateNode(Node { uuid })).await?;
        Ok(None)
    }

    async fn drop_node_stmt(&self, if_exists: bool, id: &str) -> Result<Option<String>> {
        let uuid = parse_uuid(id)?;
        if if_exists && !self.catalog().nodes.iter().any(|n| n.uuid == uuid) {
            return Ok(None);
        }
        self.ddl(DdlOp::DropNode { uuid }).await?;
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_parsing() {
        assert_eq!(
            parse_uuid("00000000-0000-0000-0000-00000000000A").unwrap(),
            "00000000-0000-0000-0000-00000000000a"
        );
        for bad in [
            "",
            "abc",
            "00000000-0000-0000-0000-00000000000g",
            "00000000000000000000000000000000000",
        ] {
            assert_eq!(parse_uuid(bad).unwrap_err().msg(), "failed to parse uuid");
        }
        let g = uuid_v4();
        assert_eq!(parse_uuid(&g).unwrap(), g);
        assert_ne!(uuid_v4(), g);
    }

    #[test]
    fn node_views() {
        let mut c = Catalog::default();
        assert_eq!(node_json(&c, "x"), Json::Null);
        c.apply(&DdlOp::CreateNode(Node {
            uuid: "00000000-0000-0000-0000-000000000001".into(),
        }))
        .unwrap();
        assert_eq!(
            node_json(&c, "00000000-0000-0000-0000-000000000001"),
            Json::Object(vec![(
                "id".into(),
                Json::String("00000000-0000-0000-0000-000000000001".into())
            )])
        );
        assert!(matches!(&nodes_json(&c), Json::Array(a) if a.len() == 1));
        assert_eq!(frontends_of(&[("frontends".into(), Json::Int(3))]), 3);
        assert_eq!(frontends_of(&[]), 1);
    }
}
