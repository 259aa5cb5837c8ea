//! What each access need means for an element: met by what it provides, irrelevant because of
//! its mode, or a task to arrange (DOMAIN.md "Adjustment rule"). Never part of the score.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Element;
use crate::domain::catalogue::Catalogue;
use crate::domain::partnership::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    Met,
    ToArrange,
    /// To arrange, and a coordinator has arranged it (only on a booking's plan).
    Arranged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Adjustment {
    pub need: String,
    pub status: AdjustmentStatus,
    /// What to do, when it has to be arranged.
    pub action: Option<String>,
    /// What was arranged, and when; only on a booking's plan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arranged: Option<Arrangement>,
}

/// What a coordinator arranged for one need on one booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Arrangement {
    /// What was arranged, for the person and the project team (e.g. "Interpreter booked for
    /// both sessions").
    pub note: Option<String>,
    pub arranged_at: DateTime<Utc>,
}

/// A booking's plan: its adjustments with what has been arranged (by need code) marked so.
/// Arrangements for needs the plan no longer has (the person changed their passport) are left out.
pub fn plan(
    adjustments: Vec<Adjustment>,
    arranged: &BTreeMap<String, Arrangement>,
) -> Vec<Adjustment> {
    adjustments
        .into_iter()
        .map(|adjustment| match arranged.get(&adjustment.need) {
            Some(done) if adjustment.status == AdjustmentStatus::ToArrange => Adjustment {
                status: AdjustmentStatus::Arranged,
                arranged: Some(done.clone()),
                ..adjustment
            },
            _ => adjustment,
        })
        .collect()
}

/// How many of a plan's adjustments still have to be arranged.
pub fn still_to_arrange(plan: &[Adjustment]) -> usize {
    plan.iter()
        .filter(|adjustment| adjustment.status == AdjustmentStatus::ToArrange)
        .count()
}

pub fn adjustments(needs: &[String], element: &Element, catalogue: &Catalogue) -> Vec<Adjustment> {
    needs
        .iter()
        .filter_map(|code| {
            let need = catalogue.access_need(code)?;
            let irrelevant = matches!(
                (need.only_when.as_str(), element.mode),
                ("in_person", Mode::Remote) | ("remote", Mode::InPerson)
            );
            if irrelevant {
                return None;
            }
            let provided = !need.feature.is_empty() && element.features.contains(&need.feature);
            Some(if provided && !need.always_arrange {
                Adjustment {
                    need: code.clone(),
                    status: AdjustmentStatus::Met,
                    action: None,
                    arranged: None,
                }
            } else {
                Adjustment {
                    need: code.clone(),
                    status: AdjustmentStatus::ToArrange,
                    action: Some(need.action.clone()),
                    arranged: None,
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalogue::BUILT_IN;
    use crate::matching::score::tests::element;

    fn catalogue() -> Catalogue {
        Catalogue::parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"))
    }

    fn needs(codes: &[&str]) -> Vec<String> {
        codes.iter().map(|c| (*c).to_string()).collect()
    }

    #[test]
    fn a_feature_the_element_provides_meets_the_need() {
        let list = adjustments(&needs(&["step_free_access"]), &element(), &catalogue());
        assert_eq!(
            list,
            [Adjustment {
                need: "step_free_access".into(),
                status: AdjustmentStatus::Met,
                action: None,
                arranged: None,
            }]
        );
    }

    #[test]
    fn a_missing_feature_becomes_a_task_with_an_action() {
        let list = adjustments(&needs(&["quiet_room"]), &element(), &catalogue());
        assert_eq!(list[0].status, AdjustmentStatus::ToArrange);
        assert!(list[0].action.as_deref().is_some_and(|a| !a.is_empty()));
    }

    #[test]
    fn interpreters_are_always_arranged() {
        let list = adjustments(&needs(&["bsl_interpreter"]), &element(), &catalogue());
        assert_eq!(list[0].status, AdjustmentStatus::ToArrange);
    }

    #[test]
    fn physical_needs_do_not_apply_to_remote_elements() {
        let mut remote = element();
        remote.mode = Mode::Remote;
        assert!(
            adjustments(&needs(&["step_free_access", "taxi"]), &remote, &catalogue()).is_empty()
        );
    }

    fn arranged(note: &str) -> BTreeMap<String, Arrangement> {
        let done = Arrangement {
            note: Some(note.into()),
            arranged_at: DateTime::UNIX_EPOCH,
        };
        [("bsl_interpreter".to_string(), done)].into()
    }

    #[test]
    fn an_arranged_task_is_marked_arranged_with_its_note() {
        let list = adjustments(
            &needs(&["bsl_interpreter", "quiet_room"]),
            &element(),
            &catalogue(),
        );
        let planned = plan(list, &arranged("Interpreter booked"));
        assert_eq!(planned[0].status, AdjustmentStatus::Arranged);
        assert_eq!(
            planned[0].arranged.as_ref().and_then(|a| a.note.as_deref()),
            Some("Interpreter booked")
        );
        assert_eq!(planned[1].status, AdjustmentStatus::ToArrange);
        assert_eq!(still_to_arrange(&planned), 1);
    }

    #[test]
    fn an_arrangement_for_a_need_no_longer_held_is_left_out() {
        let list = adjustments(&needs(&["quiet_room"]), &element(), &catalogue());
        let planned = plan(list, &arranged("Interpreter booked"));
        assert_eq!(planned.len(), 1);
        assert_eq!(planned[0].arranged, None);
    }

    #[test]
    fn a_need_the_element_meets_stays_met_whatever_was_recorded() {
        let mut list = adjustments(&needs(&["step_free_access"]), &element(), &catalogue());
        list[0].need = "bsl_interpreter".into();
        let planned = plan(list, &arranged("Interpreter booked"));
        assert_eq!(planned[0].status, AdjustmentStatus::Met);
    }
}
