//! What each access need means for an element: met by what it provides, irrelevant because of
//! its mode, or a task to arrange (DOMAIN.md "Adjustment rule"). Never part of the score.

use serde::Serialize;
use utoipa::ToSchema;

use super::model::Element;
use crate::domain::catalogue::Catalogue;
use crate::domain::partnership::Mode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    Met,
    ToArrange,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Adjustment {
    pub need: String,
    pub status: AdjustmentStatus,
    /// What to do, when it has to be arranged.
    pub action: Option<String>,
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
                }
            } else {
                Adjustment {
                    need: code.clone(),
                    status: AdjustmentStatus::ToArrange,
                    action: Some(need.action.clone()),
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
                action: None
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
}
