//! The catalogues of DOMAIN.md (access needs, features, skills, interests, lived experience,
//! payment, contact, regions, organisation kinds, equal-opportunities questions), loaded from
//! `config/catalogue.toml`. Codes are stable; labels are plain English with easy-read versions.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The file shipped with the source, used when the configured file is missing.
pub const BUILT_IN: &str = include_str!("../../config/catalogue.toml");

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Item {
    pub code: String,
    pub label: String,
    pub easy_read: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessNeed {
    pub code: String,
    pub category: String,
    pub label: String,
    pub easy_read: String,
    /// The element feature that meets this need, or "" when none does.
    pub feature: String,
    /// Needs that must be arranged for every element (interpreters, support workers, …).
    pub always_arrange: bool,
    /// `in_person`, `remote`, or "" when it matters either way.
    pub only_when: String,
    /// What a coordinator does to meet it.
    pub action: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SkillLevel {
    pub level: u8,
    pub label: String,
    pub easy_read: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EoQuestion {
    pub question: String,
    pub label: String,
    pub easy_read: String,
    pub options: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalogue {
    pub access_needs: Vec<AccessNeed>,
    pub features: Vec<Item>,
    pub skills: Vec<Item>,
    pub skill_levels: Vec<SkillLevel>,
    pub interests: Vec<Item>,
    pub lived_experience: Vec<Item>,
    pub payment_methods: Vec<Item>,
    pub contact_channels: Vec<Item>,
    pub contact_formats: Vec<Item>,
    pub regions: Vec<Item>,
    pub organisation_kinds: Vec<Item>,
    pub eo: Vec<EoQuestion>,
}

/// Which list a code is checked against; names the list in error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum List {
    AccessNeeds,
    Features,
    Skills,
    Interests,
    LivedExperience,
    PaymentMethods,
    ContactChannels,
    ContactFormats,
    Regions,
    OrganisationKinds,
}

impl List {
    fn noun(self) -> &'static str {
        match self {
            List::AccessNeeds => "access need",
            List::Features => "feature",
            List::Skills => "skill",
            List::Interests => "interest",
            List::LivedExperience => "lived experience",
            List::PaymentMethods => "payment method",
            List::ContactChannels => "contact channel",
            List::ContactFormats => "format",
            List::Regions => "region",
            List::OrganisationKinds => "kind of organisation",
        }
    }
}

impl Catalogue {
    /// Parses and checks a catalogue: no duplicate codes in a list, and every access need's
    /// feature is a known feature.
    pub fn parse(text: &str) -> Result<Self, String> {
        let catalogue: Catalogue = toml::from_str(text).map_err(|e| e.to_string())?;
        catalogue.check()?;
        Ok(catalogue)
    }

    /// The configured file, or the built-in copy when the file does not exist.
    pub fn load(path: &str) -> Result<Self, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| format!("catalogue {path}: {e}")),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                Self::parse(BUILT_IN).map_err(|e| format!("built-in catalogue: {e}"))
            }
            Err(error) => Err(format!("catalogue {path}: {error}")),
        }
    }

    fn check(&self) -> Result<(), String> {
        let lists: [(&str, Vec<&str>); 10] = [
            (
                "access_needs",
                self.access_needs.iter().map(|n| n.code.as_str()).collect(),
            ),
            ("features", codes(&self.features)),
            ("skills", codes(&self.skills)),
            ("interests", codes(&self.interests)),
            ("lived_experience", codes(&self.lived_experience)),
            ("payment_methods", codes(&self.payment_methods)),
            ("contact_channels", codes(&self.contact_channels)),
            ("contact_formats", codes(&self.contact_formats)),
            ("regions", codes(&self.regions)),
            ("organisation_kinds", codes(&self.organisation_kinds)),
        ];
        for (name, list) in &lists {
            let mut seen = std::collections::HashSet::new();
            if let Some(dup) = list.iter().find(|code| !seen.insert(**code)) {
                return Err(format!("{name}: the code `{dup}` appears twice"));
            }
        }
        for need in &self.access_needs {
            if !need.feature.is_empty() && !self.has(List::Features, &need.feature) {
                return Err(format!(
                    "access need `{}` names an unknown feature `{}`",
                    need.code, need.feature
                ));
            }
        }
        Ok(())
    }

    /// Every code of `list`, in catalogue order (the OpenAPI document lists them as enums).
    pub fn codes(&self, list: List) -> Vec<&str> {
        let items = match list {
            List::AccessNeeds => {
                return self.access_needs.iter().map(|n| n.code.as_str()).collect();
            }
            List::Features => &self.features,
            List::Skills => &self.skills,
            List::Interests => &self.interests,
            List::LivedExperience => &self.lived_experience,
            List::PaymentMethods => &self.payment_methods,
            List::ContactChannels => &self.contact_channels,
            List::ContactFormats => &self.contact_formats,
            List::Regions => &self.regions,
            List::OrganisationKinds => &self.organisation_kinds,
        };
        items.iter().map(|item| item.code.as_str()).collect()
    }

    pub fn has(&self, list: List, code: &str) -> bool {
        let items = match list {
            List::AccessNeeds => return self.access_need(code).is_some(),
            List::Features => &self.features,
            List::Skills => &self.skills,
            List::Interests => &self.interests,
            List::LivedExperience => &self.lived_experience,
            List::PaymentMethods => &self.payment_methods,
            List::ContactChannels => &self.contact_channels,
            List::ContactFormats => &self.contact_formats,
            List::Regions => &self.regions,
            List::OrganisationKinds => &self.organisation_kinds,
        };
        items.iter().any(|item| item.code == code)
    }

    /// `Ok` when `code` is in `list`; otherwise a plain-English reason.
    pub fn check_code(&self, list: List, code: &str) -> Result<(), super::Invalid> {
        if self.has(list, code) {
            Ok(())
        } else {
            Err(super::Invalid::new(
                "unknown_code",
                format!(
                    "“{code}” is not {} we know. The catalogue lists every code we use.",
                    with_article(list.noun())
                ),
            ))
        }
    }

    pub fn access_need(&self, code: &str) -> Option<&AccessNeed> {
        self.access_needs.iter().find(|need| need.code == code)
    }

    pub fn skill_level(&self, level: u8) -> Option<&SkillLevel> {
        self.skill_levels.iter().find(|l| l.level == level)
    }

    pub fn eo_question(&self, question: &str) -> Option<&EoQuestion> {
        self.eo.iter().find(|q| q.question == question)
    }
}

fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

fn codes(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item.code.as_str()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn built_in() -> Catalogue {
        Catalogue::parse(BUILT_IN).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn built_in_catalogue_has_every_list_of_the_domain() {
        let catalogue = built_in();
        assert_eq!(catalogue.features.len(), 13);
        assert_eq!(catalogue.skills.len(), 20);
        assert_eq!(catalogue.interests.len(), 20);
        assert_eq!(catalogue.lived_experience.len(), 16);
        assert_eq!(catalogue.skill_levels.len(), 3);
        assert_eq!(catalogue.eo.len(), 9);
        for code in [
            "bsl_interpreter",
            "step_free_access",
            "short_notice_withdrawal",
            "prebooked_tickets",
        ] {
            assert!(catalogue.has(List::AccessNeeds, code), "{code}");
        }
    }

    #[test]
    fn every_eo_question_offers_prefer_not_to_say() {
        for question in built_in().eo {
            assert!(
                question
                    .options
                    .iter()
                    .any(|o| o.code == "prefer_not_to_say"),
                "{}",
                question.question
            );
        }
    }

    #[test]
    fn every_item_has_an_easy_read_label() {
        let catalogue = built_in();
        let all = catalogue
            .skills
            .iter()
            .chain(&catalogue.interests)
            .chain(&catalogue.lived_experience)
            .chain(&catalogue.features);
        for item in all {
            assert!(!item.easy_read.trim().is_empty(), "{}", item.code);
        }
        for need in &catalogue.access_needs {
            assert!(
                !need.easy_read.trim().is_empty() && !need.action.trim().is_empty(),
                "{}",
                need.code
            );
        }
    }

    #[test]
    fn unknown_code_is_explained() {
        let error = built_in()
            .check_code(List::Skills, "juggling")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(error.contains("“juggling” is not a skill"), "{error}");
        let need = built_in()
            .check_code(List::AccessNeeds, "x")
            .err()
            .map(|e| e.message)
            .unwrap_or_default();
        assert!(need.contains("is not an access need"), "{need}");
    }

    #[test]
    fn duplicate_codes_are_refused() {
        let doubled = BUILT_IN.replacen("code = \"interviewing\"", "code = \"facilitation\"", 1);
        assert!(Catalogue::parse(&doubled).is_err());
    }
}
