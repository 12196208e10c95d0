//! Builds DynamoDB expressions from the port's conditions, updates and key conditions.
//!
//! Every attribute name becomes a `#nN` placeholder and every value a `:vN` placeholder, so no
//! name or value is ever written into expression text: reserved words, odd characters and user
//! data cannot change an expression's meaning.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::delete_item::builders::DeleteItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::builders::{
    ConditionCheckBuilder, DeleteBuilder, PutBuilder, UpdateBuilder,
};

use super::convert::to_attr;
use crate::store::keys::attr;
use crate::store::limits::check_actions;
use crate::store::{Condition, Index, SortCondition, StoreResult, Update, UpdateAction};

/// The placeholders of one request; its expressions share them.
#[derive(Debug, Default)]
pub(super) struct Expr {
    names: HashMap<String, String>,
    placeholder_of: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// Attribute names and values for the request's `ExpressionAttributeNames` / `Values`, each
/// `None` when empty (DynamoDB rejects empty maps).
pub(super) type Placeholders = (
    Option<HashMap<String, String>>,
    Option<HashMap<String, AttributeValue>>,
);

/// What a request carries besides its key or item: its condition (or a query's or scan's
/// filter) and the placeholders of all its expressions.
pub(super) struct Expressions {
    expression: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<HashMap<String, AttributeValue>>,
}

/// A request builder that takes [`Expressions`]; the SDK's builders share no trait for it.
pub(super) trait TakesExpressions {
    fn expressions(self, e: Expressions) -> Self;
}

macro_rules! takes_expressions {
    ($setter:ident: $($builder:ty),+) => {$(
        impl TakesExpressions for $builder {
            fn expressions(self, e: Expressions) -> Self {
                self.$setter(e.expression)
                    .set_expression_attribute_names(e.names)
                    .set_expression_attribute_values(e.values)
            }
        }
    )+};
}

takes_expressions!(set_condition_expression:
    PutItemFluentBuilder, UpdateItemFluentBuilder, DeleteItemFluentBuilder,
    PutBuilder, UpdateBuilder, DeleteBuilder, ConditionCheckBuilder);
takes_expressions!(set_filter_expression: QueryFluentBuilder, ScanFluentBuilder);

impl Expr {
    pub(super) fn new() -> Self {
        Expr::default()
    }

    /// The placeholder of an attribute name; one per distinct name.
    fn name(&mut self, name: &str) -> String {
        if let Some(placeholder) = self.placeholder_of.get(name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_owned());
        self.placeholder_of
            .insert(name.to_owned(), placeholder.clone());
        placeholder
    }

    fn value(&mut self, value: AttributeValue) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value);
        placeholder
    }

    fn string(&mut self, s: &str) -> String {
        self.value(AttributeValue::S(s.to_owned()))
    }

    pub(super) fn into_placeholders(self) -> Placeholders {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }

    /// Ends the request's expressions: `expression` (its condition or filter) with the
    /// placeholders of every expression built so far.
    pub(super) fn finish(self, expression: Option<String>) -> Expressions {
        let (names, values) = self.into_placeholders();
        Expressions {
            expression,
            names,
            values,
        }
    }

    /// Adds the request's condition, if it has one, and ends its expressions.
    pub(super) fn with_condition(
        mut self,
        condition: Option<&Condition>,
    ) -> StoreResult<Expressions> {
        let expression = condition.map(|c| self.condition(c)).transpose()?;
        Ok(self.finish(expression))
    }

    /// A condition as a `ConditionExpression` / `FilterExpression`.
    pub(super) fn condition(&mut self, cond: &Condition) -> StoreResult<String> {
        Ok(match cond {
            Condition::Exists(p) => format!("attribute_exists({})", self.name(p)),
            Condition::NotExists(p) => format!("attribute_not_exists({})", self.name(p)),
            Condition::Eq(p, v) => self.compare(p, "=", v)?,
            Condition::Ne(p, v) => self.compare(p, "<>", v)?,
            Condition::Lt(p, v) => self.order(p, "<", v)?,
            Condition::Le(p, v) => self.order(p, "<=", v)?,
            Condition::Gt(p, v) => self.order(p, ">", v)?,
            Condition::Ge(p, v) => self.order(p, ">=", v)?,
            Condition::BeginsWith(p, prefix) => {
                let name = self.name(p);
                format!("begins_with({name}, {})", self.string(prefix))
            }
            Condition::And(all) => self.join(all, "AND")?,
            Condition::Or(any) => self.join(any, "OR")?,
            Condition::Not(inner) => format!("NOT ({})", self.condition(inner)?),
        })
    }

    fn compare(
        &mut self,
        path: &str,
        op: &str,
        value: &crate::store::Value,
    ) -> StoreResult<String> {
        let name = self.name(path);
        let value = self.value(to_attr(value)?);
        Ok(format!("{name} {op} {value}"))
    }

    /// `<`, `<=`, `>`, `>=`: only strings and numbers have an order. DynamoDB rejects other
    /// operand types outright, while the port's semantics say such a comparison is false, so
    /// it becomes an expression that is always false.
    fn order(&mut self, path: &str, op: &str, value: &crate::store::Value) -> StoreResult<String> {
        if value.is_number() || value.as_str().is_some() {
            self.compare(path, op, value)
        } else {
            Ok(self.never())
        }
    }

    fn join(&mut self, parts: &[Condition], op: &str) -> StoreResult<String> {
        match parts {
            // The empty AND is true and the empty OR false, as `Condition::matches` has it.
            [] if op == "AND" => Ok(self.always()),
            [] => Ok(self.never()),
            [one] => self.condition(one),
            many => {
                let rendered = many
                    .iter()
                    .map(|c| Ok(format!("({})", self.condition(c)?)))
                    .collect::<StoreResult<Vec<_>>>()?;
                Ok(rendered.join(&format!(" {op} ")))
            }
        }
    }

    /// Expression has no literals; these are true and false for any item. They name the TTL
    /// attribute because it is never a key attribute, which a query filter may not mention.
    fn always(&mut self) -> String {
        let n = self.name(attr::EXPIRES_AT);
        format!("(attribute_exists({n}) OR attribute_not_exists({n}))")
    }

    fn never(&mut self) -> String {
        let n = self.name(attr::EXPIRES_AT);
        format!("(attribute_exists({n}) AND attribute_not_exists({n}))")
    }

    /// The filter that hides items whose TTL has passed but which DynamoDB has not yet removed.
    pub(super) fn not_expired(&mut self, now_epoch: i64) -> String {
        let n = self.name(attr::EXPIRES_AT);
        let now = self.value(AttributeValue::N(now_epoch.to_string()));
        format!("(attribute_not_exists({n}) OR {n} > {now})")
    }

    /// True for items whose TTL has passed: the complement of [`Expr::not_expired`].
    pub(super) fn expired(&mut self, now_epoch: i64) -> String {
        let n = self.name(attr::EXPIRES_AT);
        let now = self.value(AttributeValue::N(now_epoch.to_string()));
        format!("({n} <= {now})")
    }

    /// An `UpdateExpression`; `None` for an update without actions.
    ///
    /// The actions are checked first, as both engines check them: DynamoDB refuses two actions
    /// on one attribute ("document paths overlap"), and the port's ADD is numeric only.
    pub(super) fn update(&mut self, update: &Update) -> StoreResult<Option<String>> {
        check_actions(update)?;
        let (mut set, mut add, mut remove) = (Vec::new(), Vec::new(), Vec::new());
        for action in &update.actions {
            let path = match action {
                UpdateAction::Set(p, _)
                | UpdateAction::SetIfMissing(p, _)
                | UpdateAction::Add(p, _)
                | UpdateAction::Remove(p) => p,
            };
            let name = self.name(path);
            match action {
                UpdateAction::Set(_, v) => {
                    let v = self.value(to_attr(v)?);
                    set.push(format!("{name} = {v}"));
                }
                UpdateAction::SetIfMissing(_, v) => {
                    let v = self.value(to_attr(v)?);
                    set.push(format!("{name} = if_not_exists({name}, {v})"));
                }
                UpdateAction::Add(_, delta) => {
                    let v = self.value(to_attr(delta)?);
                    add.push(format!("{name} {v}"));
                }
                UpdateAction::Remove(_) => remove.push(name),
            }
        }
        let clauses: Vec<String> = [("SET", set), ("ADD", add), ("REMOVE", remove)]
            .into_iter()
            .filter(|(_, parts)| !parts.is_empty())
            .map(|(keyword, parts)| format!("{keyword} {}", parts.join(", ")))
            .collect();
        Ok((!clauses.is_empty()).then(|| clauses.join(" ")))
    }

    /// A `KeyConditionExpression` on `index`. `sort` must already be normalised (see
    /// [`SortPlan`]): DynamoDB rejects empty strings as key values.
    pub(super) fn key_condition(
        &mut self,
        index: Index,
        pk: &str,
        sort: Option<&SortCondition>,
    ) -> String {
        let (hash, range) = index.key_attrs();
        let hash = self.name(hash);
        let mut text = format!("{hash} = {}", self.string(pk));
        if let Some(sort) = sort {
            let n = self.name(range);
            let cond = match sort {
                SortCondition::Eq(v) => format!("{n} = {}", self.string(v)),
                SortCondition::Lt(v) => format!("{n} < {}", self.string(v)),
                SortCondition::Le(v) => format!("{n} <= {}", self.string(v)),
                SortCondition::Gt(v) => format!("{n} > {}", self.string(v)),
                SortCondition::Ge(v) => format!("{n} >= {}", self.string(v)),
                SortCondition::BeginsWith(v) => format!("begins_with({n}, {})", self.string(v)),
                SortCondition::Between(lo, hi) => {
                    let lo = self.string(lo);
                    format!("{n} BETWEEN {lo} AND {}", self.string(hi))
                }
            };
            text = format!("{text} AND {cond}");
        }
        text
    }
}

/// What a query's sort condition amounts to, given that key values are never empty strings.
#[derive(Debug, PartialEq)]
pub(super) enum SortPlan {
    /// Every item of the partition.
    All,
    /// No item can match: answer with an empty page without asking.
    Nothing,
    Only(SortCondition),
}

impl SortPlan {
    /// Rewrites conditions DynamoDB would reject but whose meaning is plain: empty-string
    /// bounds (keys are never empty) and BETWEEN with bounds the wrong way round (matches
    /// nothing, as `SortCondition::matches` has it).
    pub(super) fn of(sort: Option<SortCondition>) -> SortPlan {
        use SortCondition as S;
        let Some(sort) = sort else {
            return SortPlan::All;
        };
        match sort {
            S::Ge(v) | S::Gt(v) | S::BeginsWith(v) if v.is_empty() => SortPlan::All,
            S::Eq(v) | S::Lt(v) | S::Le(v) if v.is_empty() => SortPlan::Nothing,
            S::Between(lo, hi) if lo.as_bytes() > hi.as_bytes() || hi.is_empty() => {
                SortPlan::Nothing
            }
            S::Between(lo, hi) if lo.is_empty() => SortPlan::Only(S::Le(hi)),
            other => SortPlan::Only(other),
        }
    }
}

/// True when the condition names `name` anywhere.
pub(super) fn mentions(cond: &Condition, name: &str) -> bool {
    match cond {
        Condition::Exists(p)
        | Condition::NotExists(p)
        | Condition::Eq(p, _)
        | Condition::Ne(p, _)
        | Condition::Lt(p, _)
        | Condition::Le(p, _)
        | Condition::Gt(p, _)
        | Condition::Ge(p, _)
        | Condition::BeginsWith(p, _) => p == name,
        Condition::And(all) | Condition::Or(all) => all.iter().any(|c| mentions(c, name)),
        Condition::Not(inner) => mentions(inner, name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{StoreError, Value};

    fn names(e: &Expr) -> Vec<(String, String)> {
        let mut v: Vec<_> = e
            .names
            .iter()
            .map(|(k, n)| (k.clone(), n.clone()))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn conditions_use_placeholders_only() {
        let mut e = Expr::new();
        let cond = Condition::item_absent().and(Condition::eq("status", "a b) OR (x"));
        let text = e.condition(&cond).unwrap();
        assert_eq!(text, "(attribute_not_exists(#n0)) AND (#n1 = :v0)");
        assert_eq!(
            names(&e),
            [("#n0".into(), "PK".into()), ("#n1".into(), "status".into())]
        );
        assert_eq!(e.values[":v0"], AttributeValue::S("a b) OR (x".into()));
        assert!(!text.contains("status") && !text.contains("PK"));
    }

    #[test]
    fn every_condition_form_renders() {
        let mut e = Expr::new();
        let cond = Condition::Or(vec![
            Condition::Exists("a".into()),
            Condition::Ne("a".into(), Value::Int(1)),
            Condition::Lt("b".into(), Value::Float(1.5)),
            Condition::Le("b".into(), "x".into()),
            Condition::Gt("c".into(), Value::Int(2)),
            Condition::Ge("c".into(), Value::Int(3)),
            Condition::BeginsWith("d".into(), "pre".into()),
            Condition::Not(Box::new(Condition::NotExists("e".into()))),
        ]);
        let text = e.condition(&cond).unwrap();
        assert_eq!(
            text,
            "(attribute_exists(#n0)) OR (#n0 <> :v0) OR (#n1 < :v1) OR (#n1 <= :v2) OR \
             (#n2 > :v3) OR (#n2 >= :v4) OR (begins_with(#n3, :v5)) OR \
             (NOT (attribute_not_exists(#n4)))"
        );
        assert_eq!(e.values[":v1"], AttributeValue::N("1.5".into()));
        assert_eq!(e.values.len(), 6);
        assert_eq!(e.names.len(), 5);
    }

    #[test]
    fn empty_and_or_and_unordered_comparisons_are_constants() {
        let mut e = Expr::new();
        let t = e.condition(&Condition::And(vec![])).unwrap();
        let f = e.condition(&Condition::Or(vec![])).unwrap();
        let lt_bool = e
            .condition(&Condition::Lt("a".into(), Value::Bool(true)))
            .unwrap();
        assert_eq!(t, "(attribute_exists(#n0) OR attribute_not_exists(#n0))");
        assert_eq!(f, "(attribute_exists(#n0) AND attribute_not_exists(#n0))");
        assert_eq!(lt_bool, f);
        assert_eq!(e.names["#n0"], "expires_at");
        assert!(e.values.is_empty());
        let single = e
            .condition(&Condition::And(vec![Condition::Exists("x".into())]))
            .unwrap();
        assert_eq!(single, "attribute_exists(#n1)");
    }

    #[test]
    fn updates_group_actions_by_clause() {
        let mut e = Expr::new();
        let update = Update::new()
            .set("name", "Ann")
            .add("count", 1)
            .set_if_missing("created", 10)
            .remove("old");
        let text = e.update(&update).unwrap().unwrap();
        assert_eq!(
            text,
            "SET #n0 = :v0, #n2 = if_not_exists(#n2, :v2) ADD #n1 :v1 REMOVE #n3"
        );
        assert_eq!(e.values[":v1"], AttributeValue::N("1".into()));
        assert_eq!(e.names["#n2"], "created");
        assert_eq!(Expr::new().update(&Update::new()).unwrap(), None);
    }

    #[test]
    fn invalid_updates_are_rejected_before_the_call() {
        let twice = Update::new().set("a", 1).add("a", 2);
        assert!(matches!(
            Expr::new().update(&twice),
            Err(StoreError::Validation(_))
        ));
        let add_text = Update::new().add("a", "x");
        assert!(matches!(
            Expr::new().update(&add_text),
            Err(StoreError::Validation(_))
        ));
        let nan = Update::new().set("a", f64::NAN);
        assert!(matches!(
            Expr::new().update(&nan),
            Err(StoreError::Validation(_))
        ));
    }

    #[test]
    fn key_conditions_cover_every_operator() {
        let cases = [
            (SortCondition::Eq("x".into()), "#n1 = :v1"),
            (SortCondition::Lt("x".into()), "#n1 < :v1"),
            (SortCondition::Le("x".into()), "#n1 <= :v1"),
            (SortCondition::Gt("x".into()), "#n1 > :v1"),
            (SortCondition::Ge("x".into()), "#n1 >= :v1"),
            (
                SortCondition::BeginsWith("x".into()),
                "begins_with(#n1, :v1)",
            ),
            (
                SortCondition::Between("a".into(), "b".into()),
                "#n1 BETWEEN :v1 AND :v2",
            ),
        ];
        for (sort, expected) in cases {
            let mut e = Expr::new();
            let text = e.key_condition(Index::Gsi2, "P", Some(&sort));
            assert_eq!(text, format!("#n0 = :v0 AND {expected}"));
            assert_eq!(e.names["#n0"], "GSI2PK");
            assert_eq!(e.names["#n1"], "GSI2SK");
        }
        let mut e = Expr::new();
        assert_eq!(e.key_condition(Index::Primary, "P", None), "#n0 = :v0");
        assert_eq!(e.names["#n0"], "PK");
    }

    #[test]
    fn sort_conditions_normalise() {
        use SortCondition as S;
        assert_eq!(SortPlan::of(None), SortPlan::All);
        assert_eq!(
            SortPlan::of(Some(S::BeginsWith(String::new()))),
            SortPlan::All
        );
        assert_eq!(SortPlan::of(Some(S::Ge(String::new()))), SortPlan::All);
        assert_eq!(SortPlan::of(Some(S::Eq(String::new()))), SortPlan::Nothing);
        assert_eq!(
            SortPlan::of(Some(S::Between("b".into(), "a".into()))),
            SortPlan::Nothing
        );
        assert_eq!(
            SortPlan::of(Some(S::Between(String::new(), "a".into()))),
            SortPlan::Only(S::Le("a".into()))
        );
        assert_eq!(
            SortPlan::of(Some(S::Lt("a".into()))),
            SortPlan::Only(S::Lt("a".into()))
        );
    }

    #[test]
    fn ttl_filter_compares_with_now() {
        let mut e = Expr::new();
        assert_eq!(
            e.not_expired(1700),
            "(attribute_not_exists(#n0) OR #n0 > :v0)"
        );
        assert_eq!(e.values[":v0"], AttributeValue::N("1700".into()));
        let (names, values) = e.into_placeholders();
        assert_eq!(names.unwrap()["#n0"], "expires_at");
        assert_eq!(values.unwrap().len(), 1);
        assert_eq!(Expr::new().into_placeholders(), (None, None));
        let mut e = Expr::new();
        assert_eq!(e.expired(5), "(#n0 <= :v0)");
        assert_eq!(e.values[":v0"], AttributeValue::N("5".into()));
    }

    #[test]
    fn mentions_finds_nested_names() {
        let cond = Condition::Not(Box::new(Condition::Or(vec![
            Condition::Exists("a".into()),
            Condition::eq("SK", "x"),
        ])));
        assert!(mentions(&cond, "SK"));
        assert!(!mentions(&cond, "PK"));
    }
}
