//! Aggregates: per-node partial states, merged by the coordinator.

use crate::exec::binary;
use crate::op::BinOp;
use amelie_common::{Error, FastMap, Result, Value};
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

/// Groups rows `key ++ one input per aggregate` by key. With `partial`, the inputs are
/// instead `count, acc` pairs of partial states, which are merged. Returns the key of each
/// group with its states, ordered by key.
pub fn group_states(
    rows: Vec<crate::Tuple>,
    nkeys: usize,
    kinds: &[AggKind],
    partial: bool,
) -> Result<Vec<(Vec<Value>, Vec<AggState>)>> {
    let mut groups: FastMap<Vec<Value>, Vec<AggState>> = FastMap::default();
    for row in rows {
        let key: Vec<Value> = row.iter().take(nkeys).cloned().collect();
        let states = groups
            .entry(key)
            .or_insert_with(|| vec![AggState::default(); kinds.len()]);
        for (i, kind) in kinds.iter().enumerate() {
            if partial {
                let (Some(c), Some(a)) = (row.get(nkeys + 2 * i), row.get(nkeys + 2 * i + 1))
                else {
                    continue;
                };
                states[i].merge(*kind, &AggState::from_values(c, a))?;
            } else {
                let v = row.get(nkeys + i);
                let v = if *kind == AggKind::CountStar { None } else { v };
                states[i].step(*kind, v)?;
            }
        }
    }
    let mut out: Vec<(Vec<Value>, Vec<AggState>)> = groups.into_iter().collect();
    out.sort_by(|a, b| {
        for (x, y) in a.0.iter().zip(b.0.iter()) {
            let o = x.total_cmp(y);
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    Ok(out)
}

/// Node side of a grouped aggregate: rows `key ++ inputs` → rows `key ++ (count, acc)*`.
pub fn group_partial(
    rows: Vec<crate::Tuple>,
    nkeys: usize,
    kinds: &[AggKind],
) -> Result<Vec<crate::Tuple>> {
    Ok(group_states(rows, nkeys, kinds, false)?
        .into_iter()
        .map(|(mut key, states)| {
            for st in &states {
                st.to_values(&mut key);
            }
            key.into_boxed_slice()
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_partials_merge_by_key() {
        let kinds = [AggKind::CountStar, AggKind::Sum];
        let row = |k: i64, v: Value| vec![Value::Int(k), Value::Null, v].into_boxed_slice();
        let a = group_partial(
            vec![
                row(1, Value::Int(2)),
                row(2, Value::Int(3)),
                row(1, Value::Null),
            ],
            1,
            &kinds,
        )
        .unwrap();
        let b = group_partial(vec![row(1, Value::Int(5))], 1, &kinds).unwrap();
        let mut all = a;
        all.extend(b);
        let merged = group_states(all, 1, &kinds, true).unwrap();
        assert_eq!(merged.len(), 2);
        assert_eq!(merged[0].0, vec![Value::Int(1)]);
        assert_eq!(
            merged[0].1[0].finish(AggKind::CountStar).unwrap(),
            Value::Int(3)
        );
        assert_eq!(merged[0].1[1].finish(AggKind::Sum).unwrap(), Value::Int(7));
        assert_eq!(merged[1].1[1].finish(AggKind::Sum).unwrap(), Value::Int(3));
    }

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
