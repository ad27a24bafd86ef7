//! Aggregates: per-node partial states, merged by the coordinator.

use crate::exec::binary;
use crate::op::BinOp;
use amelie_common::{Error, Result, Value};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum AggKind {
    CountStar,
    Count,
    Sum,
    Avg,
    Min,
    Max,
}

/// A partial aggregate: number of non-null inputs and the accumulated value.
#[derive(Clone, Debug, Default)]
pub struct AggState {
    pub count: i64,
    pub acc: Value,
}

impl AggState {
    /// Feeds one input value (None for count(*)).
    pub fn step(&mut self, kind: AggKind, v: Option<&Value>) -> Result<()> {
        let v = match (kind, v) {
            (AggKind::CountStar, _) | (_, None) => {
                self.count += 1;
                return Ok(());
            }
            (_, Some(Value::Null)) => return Ok(()),
            (_, Some(v)) => v,
        };
        match kind {
            AggKind::CountStar | AggKind::Count => {}
            AggKind::Sum | AggKind::Avg => {
                if !matches!(v, Value::Int(_) | Value::Double(_)) {
                    let name = if kind == AggKind::Sum { "sum" } else { "avg" };
                    return Err(Error::type_error(format!(
                        "{name}(): int or double expected"
                    )));
                }
                self.acc = if self.count == 0 {
                    v.clone()
                } else {
                    binary(BinOp::Add, &self.acc, v)?
                };
            }
            AggKind::Min => {
                if self.count == 0 || v.total_cmp(&self.acc).is_lt() {
                    self.acc = v.clone();
                }
            }
            AggKind::Max => {
                if self.count == 0 || v.total_cmp(&self.acc).is_gt() {
                    self.acc = v.clone();
                }
            }
        }
        self.count += 1;
        Ok(())
    }

    /// Merges another partial state of the same aggregate.
    pub fn merge(&mut self, kind: AggKind, other: &AggState) -> Result<()> {
        if other.count == 0 {
            return Ok(());
        }
        if self.count == 0 {
            *self = other.clone();
            return Ok(());
        }
        match kind {
            AggKind::CountStar | AggKind::Count => {}
            AggKind::Sum | AggKind::Avg => self.acc = binary(BinOp::Add, &self.acc, &other.acc)?,
            AggKind::Min => {
                if other.acc.total_cmp(&self.acc).is_lt() {
                    self.acc = other.acc.clone();
                }
            }
            AggKind::Max => {
                if other.acc.total_cmp(&self.acc).is_gt() {
                    self.acc = other.acc.clone();
                }
            }
        }
        self.count += other.count;
        Ok(())
    }

    /// The final value: count → int, sum/min/max → value or null, avg → sum / count
    /// (integer division for ints).
    pub fn finish(&self, kind: AggKind) -> Result<Value> {
        Ok(match kind {
            AggKind::CountStar | AggKind::Count => Value::Int(self.count),
            _ if self.count == 0 => Value::Null,
            AggKind::Avg => binary(BinOp::Div, &self.acc, &Value::Int(self.count))?,
            _ => self.acc.clone(),
        })
    }

    /// Serialises the state as two values of a partial row.
    pub fn to_values(&self, out: &mut Vec<Value>) {
        out.push(Value::Int(self.count));
        out.push(self.acc.clone());
    }

    pub fn from_values(count: &Value, acc: &Value) -> AggState {
        let count = if let Value::Int(c) = count { *c } else { 0 };
        AggState {
            count,
            acc: acc.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_states_merge() {
        let mut a = AggState::default();
        let mut b = AggState::default();
        for i in 1..=3 {
            a.step(AggKind::Avg, Some(&Value::Int(i))).unwrap();
        }
        b.step(AggKind::Avg, Some(&Value::Int(10))).unwrap();
        b.step(AggKind::Avg, Some(&Value::Null)).unwrap();
        a.merge(AggKind::Avg, &b).unwrap();
        assert_eq!(a.finish(AggKind::Avg).unwrap(), Value::Int(4));
        assert_eq!(a.finish(AggKind::Count).unwrap(), Value::Int(4));
        assert_eq!(
            AggState::default().finish(AggKind::Sum).unwrap(),
            Value::Null
        );
    }
}
