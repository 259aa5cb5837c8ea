//! Templates embedded in the binary (from `templates/email/`), optionally overridden file by
//! file from `email.templates_dir`. HTML files are auto-escaped; unknown variables are errors.

use std::path::Path;

use include_dir::{Dir, include_dir};
use minijinja::{Environment, UndefinedBehavior};

use super::Email;
use crate::domain::email_format::EmailFormat;

static BUILT_IN: Dir<'static> = include_dir!("$CARGO_MANIFEST_DIR/templates/email");

/// What one email says, ready for the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    /// `None` for people who asked for plain text.
    pub html: Option<String>,
}

pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    /// Built-in templates, with files from `override_dir` (if not empty) replacing them.
    pub fn load(override_dir: &str) -> anyhow::Result<Self> {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        add_embedded(&mut env, &BUILT_IN)?;
        if !override_dir.is_empty() {
            add_folder(&mut env, Path::new(override_dir), Path::new(override_dir))?;
        }
        Ok(Self { env })
    }

    pub fn render(&self, email: &Email, format: EmailFormat) -> Result<Rendered, minijinja::Error> {
        self.render_context(
            email.template(),
            minijinja::Value::from_serialize(email),
            format,
        )
    }

    /// Renders `template` from a context kept as JSON (see `outbox::Rerender`).
    pub fn render_json(
        &self,
        template: &str,
        context: &serde_json::Value,
        format: EmailFormat,
    ) -> Result<Rendered, minijinja::Error> {
        self.render_context(template, minijinja::Value::from_serialize(context), format)
    }

    fn render_context(
        &self,
        name: &str,
        context: minijinja::Value,
        format: EmailFormat,
    ) -> Result<Rendered, minijinja::Error> {
        let render = |file: &str| -> Result<String, minijinja::Error> {
            self.env
                .get_template(&format!("{name}/{file}"))?
                .render(&context)
        };
        // Only a missing file means "no such variant"; a broken one is an error.
        let exists = |file: &str| match self.env.get_template(&format!("{name}/{file}")) {
            Ok(_) => Ok(true),
            Err(e) if e.kind() == minijinja::ErrorKind::TemplateNotFound => Ok(false),
            Err(e) => Err(e),
        };
        let subject = render("subject.txt")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let (text, html) = match format {
            EmailFormat::Standard => (render("body.txt")?, Some(render("body.html")?)),
            EmailFormat::PlainText => (render("body.txt")?, None),
            EmailFormat::EasyRead => {
                let text = if exists("easy_read.txt")? {
                    render("easy_read.txt")?
                } else {
                    render("body.txt")?
                };
                let html = if exists("easy_read.html")? {
                    Some(render("easy_read.html")?)
                } else {
                    None
                };
                (text, html)
            }
        };
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }

    /// Renders every email in every format with example data; the first failure is the error.
    pub fn check_every_email(&self) -> anyhow::Result<()> {
        for email in Email::examples() {
            for format in [
                EmailFormat::Standard,
                EmailFormat::EasyRead,
                EmailFormat::PlainText,
            ] {
                self.render(&email, format).map_err(|e| {
                    anyhow::anyhow!(
                        "email template {} ({}) does not render: {e:#}",
                        email.template(),
                        format.as_str()
                    )
                })?;
            }
        }
        Ok(())
    }

    /// Template folders shipped in the binary.
    pub fn built_in_names() -> Vec<String> {
        BUILT_IN
            .dirs()
            .map(|dir| dir.path().to_string_lossy().into_owned())
            .collect()
    }
}

fn add_embedded(env: &mut Environment<'static>, dir: &Dir<'static>) -> anyhow::Result<()> {
    for file in dir.files() {
        let name = file.path().to_string_lossy().into_owned();
        let source = file
            .contents_utf8()
            .ok_or_else(|| anyhow::anyhow!("template {name} is not UTF-8"))?;
        env.add_template_owned(name, source.to_string())?;
    }
    for sub in dir.dirs() {
        add_embedded(env, sub)?;
    }
    Ok(())
}

fn add_folder(env: &mut Environment<'static>, root: &Path, dir: &Path) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("email.templates_dir: cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            add_folder(env, root, &path)?;
        } else {
            let name = path
                .strip_prefix(root)?
                .to_string_lossy()
                .replace('\\', "/");
            let source = std::fs::read_to_string(&path)?;
            env.add_template_owned(name, source)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn templates() -> Templates {
        Templates::load("").unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn every_template_folder_has_subject_text_and_html() {
        let env = templates();
        for name in Templates::built_in_names() {
            for file in ["subject.txt", "body.txt", "body.html"] {
                assert!(
                    env.env.get_template(&format!("{name}/{file}")).is_ok(),
                    "{name}/{file} missing"
                );
            }
        }
    }

    #[test]
    fn every_email_has_a_template_folder() {
        let names = Templates::built_in_names();
        for email in Email::examples() {
            assert!(
                names.iter().any(|n| n == email.template()),
                "{} has no folder",
                email.template()
            );
        }
    }

    #[test]
    fn every_email_renders_in_every_format() {
        let env = templates();
        for email in Email::examples() {
            for format in [
                EmailFormat::Standard,
                EmailFormat::EasyRead,
                EmailFormat::PlainText,
            ] {
                let rendered = env
                    .render(&email, format)
                    .unwrap_or_else(|e| panic!("{}: {e:#}", email.template()));
                assert!(!rendered.subject.is_empty());
                assert!(!rendered.subject.contains('\n'));
                assert!(
                    rendered.text.contains("https://coproduce.example/"),
                    "{}",
                    email.template()
                );
                assert!(!rendered.text.contains("{{"), "{}", email.template());
                if let Some(html) = &rendered.html {
                    assert!(html.contains("<html lang=\"en\">"), "{}", email.template());
                }
            }
        }
    }

    #[test]
    fn plain_text_format_has_no_html_part() {
        let rendered = templates()
            .render(&Email::examples()[0], EmailFormat::PlainText)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rendered.html, None);
    }

    #[test]
    fn easy_read_sign_in_email_uses_its_own_words() {
        let env = templates();
        let email = &Email::examples()[0];
        let standard = env
            .render(email, EmailFormat::Standard)
            .unwrap_or_else(|e| panic!("{e}"));
        let easy = env
            .render(email, EmailFormat::EasyRead)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_ne!(standard.text, easy.text);
        assert!(easy.text.contains("The link works 1 time."));
    }

    #[test]
    fn names_are_escaped_in_html_but_kept_in_text() {
        let email = Email::SignInLink {
            name: "<script>alert(1)</script>".into(),
            link: "https://coproduce.example/x".into(),
            minutes: 15,
        };
        let rendered = templates()
            .render(&email, EmailFormat::Standard)
            .unwrap_or_else(|e| panic!("{e}"));
        let html = rendered.html.unwrap_or_default();
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(rendered.text.contains("<script>"));
    }

    #[test]
    fn every_email_escapes_every_text_field_in_html() {
        let env = templates();
        for email in Email::examples() {
            let mut context = serde_json::to_value(&email).unwrap_or_default();
            if let Some(fields) = context.as_object_mut() {
                for value in fields.values_mut().filter(|v| v.is_string()) {
                    *value = "<script>x</script>".into();
                }
            }
            let rendered = env
                .render_context(
                    email.template(),
                    minijinja::Value::from_serialize(&context),
                    EmailFormat::Standard,
                )
                .unwrap_or_else(|e| panic!("{}: {e}", email.template()));
            let html = rendered.html.unwrap_or_default();
            assert!(
                !html.contains("<script>"),
                "{} does not escape",
                email.template()
            );
        }
    }

    #[test]
    fn override_folder_replaces_a_built_in_file() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(dir.path().join("sign_in_link")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(
            dir.path().join("sign_in_link/subject.txt"),
            "Sign in, {{ name }}",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let env = Templates::load(&dir.path().to_string_lossy()).unwrap_or_else(|e| panic!("{e}"));
        let rendered = env
            .render(&Email::examples()[0], EmailFormat::Standard)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(rendered.subject, "Sign in, Sam");
    }
}
