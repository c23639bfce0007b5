//! `POST /token` and `GET /users/me`: FastAPI's OAuth2 password-flow tutorial, with signed
//! tokens.
//!
//! Why signed tokens (HMAC-SHA256) rather than a token table: the showcase runs several worker
//! processes that share no memory, and a login through one worker must be accepted by the
//! next request whichever worker the kernel hands it to. A table would need the shared
//! database (a write per login, a read per request); a signature needs only a secret every
//! worker knows. The secret is drawn in the supervisor ([`Settings::new`], before the runner
//! forks) so every worker inherits the same one, and a restart invalidates every token (it lives
//! in no file). Each token carries a random nonce, so two logins get two tokens.
//!
//! The token is `{username}.{nonce}.{mac}` (hex); it does not expire (the tutorial's first
//! version neither; its JWT chapter adds `exp`).
//!
//! [`Settings::new`]: crate::settings::Settings::new

use hmac::{Hmac, Mac};
use serde::Serialize;
use sha2::Sha256;
use waitless::security::{
    invalid_credentials, OAuth2Config, OAuth2PasswordBearer, OAuth2PasswordRequestForm,
};
use waitless::{FromRequest, HttpError, Json, Rejection, RequestContext, State};

use crate::files::hex;

/// The demo user of FastAPI's tutorial.
const DEMO_USER: &str = "alice";
const DEMO_PASSWORD: &str = "secret";

/// The server's signing secret: 32 random bytes per server start.
#[derive(Clone)]
pub struct TokenSecret([u8; 32]);

impl TokenSecret {
    /// A fresh secret from the OS random source.
    pub fn random() -> Result<TokenSecret, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(TokenSecret(key))
    }

    /// HMAC-SHA256 of `message` (HMAC takes keys of any length: `None` never happens).
    fn mac(&self, message: &str) -> Option<Hmac<Sha256>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0).ok()?;
        mac.update(message.as_bytes());
        Some(mac)
    }

    /// A new token for `username` (`None` if the OS random source fails).
    pub fn issue(&self, username: &str) -> Option<String> {
        let mut nonce = [0u8; 16];
        getrandom::fill(&mut nonce).ok()?;
        let claims = format!("{username}.{}", hex(&nonce));
        let signature = hex(&self.mac(&claims)?.finalize().into_bytes());
        Some(format!("{claims}.{signature}"))
    }

    /// The username in `token` if this server signed it (constant-time comparison).
    pub fn verify<'t>(&self, token: &'t str) -> Option<&'t str> {
        let (claims, signature) = token.rsplit_once('.')?;
        let signature = unhex(signature)?;
        self.mac(claims)?.verify_slice(&signature).ok()?;
        claims.split_once('.').map(|(user, _nonce)| user)
    }
}

impl std::fmt::Debug for TokenSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenSecret(..)")
    }
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

/// `tokenUrl` of the scheme in `/openapi.json` (what `/docs`' Authorize dialog posts to).
pub struct TokenUrl;

impl OAuth2Config for TokenUrl {
    const TOKEN_URL: &'static str = "token";
}

/// `{"access_token": …, "token_type": "bearer"}`.
#[derive(Debug, Serialize)]
pub struct Token {
    pub access_token: String,
    pub token_type: &'static str,
}

/// `POST /token` (form `username`, `password`) → a token for the demo user; otherwise 400.
pub async fn login(
    State(secret): State<TokenSecret>,
    form: OAuth2PasswordRequestForm,
) -> Result<Json<Token>, HttpError> {
    if form.username != DEMO_USER || form.password != DEMO_PASSWORD {
        return Err(HttpError::new(400, "Incorrect username or password"));
    }
    let access_token = secret
        .issue(&form.username)
        .ok_or_else(|| HttpError::new(500, "Internal Server Error"))?;
    Ok(Json(Token {
        access_token,
        token_type: "bearer",
    }))
}

/// The user a valid bearer token names (FastAPI's `get_current_user` dependency).
pub struct CurrentUser(pub String);

impl FromRequest for CurrentUser {
    async fn from_request(req: &mut RequestContext<'_>) -> Result<Self, Rejection> {
        let token = OAuth2PasswordBearer::<TokenUrl>::from_request(req).await?;
        let State(secret) = State::<TokenSecret>::from_request(req).await?;
        match secret.verify(token.token()) {
            Some(user) => Ok(CurrentUser(user.to_owned())),
            None => Err(invalid_credentials().into()),
        }
    }

    fn openapi(op: &mut waitless::openapi::Operation<'_>) {
        OAuth2PasswordBearer::<TokenUrl>::openapi(op);
    }
}

/// `{"username": …}`.
#[derive(Debug, Serialize)]
pub struct User {
    pub username: String,
}

/// `GET /users/me` → the token's user; no token → 401 `Not authenticated`, a token this
/// server did not sign → 401 `Could not validate credentials`.
pub async fn me(CurrentUser(username): CurrentUser) -> Json<User> {
    Json(User { username })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_verify_only_with_their_secret_and_intact() {
        let secret = TokenSecret::random().expect("random");
        let token = secret.issue("alice").expect("issue");
        assert_eq!(secret.verify(&token), Some("alice"));
        assert_ne!(
            token,
            secret.issue("alice").expect("issue"),
            "random per issue"
        );
        let other = TokenSecret::random().expect("random");
        assert_eq!(other.verify(&token), None);
        let forged = token.replacen("alice", "bob", 1);
        assert_eq!(secret.verify(&forged), None);
        for junk in ["", ".", "a.b", "alice.00.zz", "alice.00.0", "é.é.éé"] {
            assert_eq!(secret.verify(junk), None, "{junk:?}");
        }
    }
}
