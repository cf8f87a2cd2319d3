//! Chat templates from the GGUF metadata (`tokenizer.chat_template`), rendered with minijinja
//! (Jinja2-compatible, with Python string methods such as `.strip()` that model templates use).

use minijinja::{Environment, ErrorKind, context};
use serde::{Deserialize, Serialize};

use crate::RuntimeError;

/// One chat message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

impl ChatMessage {
    pub fn new(role: &str, content: &str) -> Self {
        Self {
            role: role.to_owned(),
            content: content.to_owned(),
        }
    }
}

/// A compiled chat template.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos_token: String,
    eos_token: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

fn raise_exception(message: String) -> Result<String, minijinja::Error> {
    Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
}

impl ChatTemplate {
    /// Compile `source`; a template that does not parse is a [`RuntimeError::BadModel`].
    pub fn new(source: &str, bos_token: &str, eos_token: &str) -> Result<Self, RuntimeError> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function("raise_exception", raise_exception);
        env.add_template_owned("chat", source.to_owned())
            .map_err(|e| {
                RuntimeError::BadModel(format!("the model's chat template does not parse: {e}"))
            })?;
        Ok(Self {
            env,
            bos_token: bos_token.to_owned(),
            eos_token: eos_token.to_owned(),
        })
    }

    /// The prompt text for `messages`, ending with the assistant's turn when `add_generation_prompt`.
    pub fn render(
        &self,
        messages: &[ChatMessage],
        add_generation_prompt: bool,
    ) -> Result<String, RuntimeError> {
        let template = self
            .env
            .get_template("chat")
            .map_err(|e| RuntimeError::BadModel(format!("chat template: {e}")))?;
        template
            .render(context! {
                messages => minijinja::value::Serde(messages),
                add_generation_prompt => add_generation_prompt,
                bos_token => self.bos_token.as_str(),
                eos_token => self.eos_token.as_str(),
            })
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidOperation => {
                    RuntimeError::BadRequest(format!("the chat template refused the messages: {e}"))
                }
                _ => RuntimeError::BadModel(format!("the model's chat template failed: {e}")),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SmolLM2-Instruct's template, as its GGUF carries it.
    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn renders_chatml_with_a_default_system_prompt() {
        let template = ChatTemplate::new(CHATML, "<|im_start|>", "<|im_end|>").unwrap();
        let prompt = template
            .render(&[ChatMessage::new("user", "你好")], true)
            .unwrap();
        assert!(
            prompt.starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
        );
        assert!(
            prompt.ends_with("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"),
            "{prompt}"
        );
    }

    #[test]
    fn python_methods_and_raise_exception_work() {
        let source = "{% if messages[0].role != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}{{ messages[0].content.strip() }}";
        let template = ChatTemplate::new(source, "", "").unwrap();
        assert_eq!(
            template
                .render(&[ChatMessage::new("user", "  hi  ")], false)
                .unwrap(),
            "hi"
        );
        let err = template
            .render(&[ChatMessage::new("system", "x")], false)
            .unwrap_err();
        assert!(matches!(err, RuntimeError::BadRequest(_)), "{err}");
    }

    #[test]
    fn a_broken_template_is_a_model_error() {
        assert!(matches!(
            ChatTemplate::new("{% for %}", "", ""),
            Err(RuntimeError::BadModel(_))
        ));
    }
}
