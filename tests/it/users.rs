//! Users and sign-in as people and scripts meet them: the first admin's
//! link, signing in and out, the session cookie, forged forms, every route
//! against every role, API tokens, `callpop user add` and click-to-dial
//! from one's own extension.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use callpop::web::{routes, Access};
use serde_json::{json, Value};

use crate::helpers::{
    add_user, api_token_for, csrf_in, pops_with, session_for, sign_in, spawn_app, status, Browser,
    Request, SipUdp, TestApp, TOKEN,
};

const BIN: &str = env!("CARGO_BIN_EXE_callpop");
const WAIT: Duration = Duration::from_secs(10);

/// `callpop serve` in `dir` on port 0; returns it with its web address and
/// the setup link it printed, if any.
fn serve(dir: &std::path::Path) -> (Child, SocketAddr, Option<String>) {
    let mut child = Command::new(BIN)
        .arg("serve")
        .current_dir(dir)
        .env_clear()
        .env("RUST_LOG", "info")
        .env("CALLPOP_SERVER__LISTEN", "127.0.0.1:0")
        .env("CALLPOP_SIP__ENABLED", "false")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut web, mut link) = (None, None);
    while web.is_none() {
        let line = lines.next().expect("the daemon's log ended early").unwrap();
        if let Some(at) = line.strip_prefix("create the first admin at ") {
            link = Some(at.to_owned());
        }
        if line.contains("web listening") {
            let addr = &line[line.find("addr=").unwrap() + 5..];
            web = Some(addr.split_whitespace().next().unwrap().parse().unwrap());
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (child, web.unwrap(), link)
}

fn stop(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The `{token}` of a printed setup link.
fn setup_token(link: &str) -> &str {
    let (_, token) = link.rsplit_once("/setup/").expect("a setup link");
    token
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_link_is_printed_once_and_works_once() {
    let dir = tempfile::tempdir().unwrap();
    let (daemon, web, link) = serve(dir.path());
    let link = link.expect("with no users, serve prints a setup link");
    assert!(link.starts_with("http://127.0.0.1:8080/setup/"), "{link}");
    let token = setup_token(&link).to_owned();

    // The link opens a form; the form creates the admin and signs them in.
    let mut browser = Browser::at(web);
    let form = browser.get(&format!("/setup/{token}")).await;
    assert_eq!(form.status(), 200);
    let csrf = csrf_in(&form.text().await.unwrap()).unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("username", "root"),
        ("display_name", "Rosa Root"),
        ("extensions", "200"),
        ("password", "first-admin-pw"),
        ("password_again", "first-admin-pw"),
    ];
    let created = browser.post(&format!("/setup/{token}"), &fields).await;
    assert_eq!(created.status(), 303);
    assert_eq!(created.headers()["location"], "/admin/users?done=welcome");
    assert!(browser.cookie("callpop_session").is_some());
    let users = browser.get("/admin/users?done=welcome").await;
    assert_eq!(users.status(), 200);
    let html = users.text().await.unwrap();
    assert!(
        html.contains("first admin") && html.contains("Rosa Root"),
        "{html}"
    );

    // A second use, from another browser, finds the link spent.
    let mut again = Browser::at(web);
    assert_eq!(again.get(&format!("/setup/{token}")).await.status(), 404);
    again.get("/login").await;
    let csrf = again.cookie("callpop_csrf").unwrap().to_owned();
    let fields = [
        ("csrf", csrf.as_str()),
        ("username", "intruder"),
        ("password", "intruder-pw"),
        ("password_again", "intruder-pw"),
    ];
    let refused = again.post(&format!("/setup/{token}"), &fields).await;
    assert_eq!(refused.status(), 404);
    assert_eq!(again.cookie("callpop_session"), None);
    stop(daemon);

    // With a user, a new start prints no link, and the old one stays spent.
    let (daemon, web, link) = serve(dir.path());
    assert_eq!(link, None);
    assert_eq!(
        Browser::at(web)
            .get(&format!("/setup/{token}"))
            .await
            .status(),
        404
    );
    let mut root = Browser::at(web);
    let form = root.get("/login").await.text().await.unwrap();
    let csrf = csrf_in(&form).unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("username", "ROOT"),
        ("password", "first-admin-pw"),
    ];
    assert_eq!(
        root.post("/login", &fields).await.status(),
        303,
        "usernames ignore case"
    );
    stop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_in_goes_back_where_the_browser_was_and_signing_out_ends_the_session() {
    let app = spawn_app(&[]).await;
    add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    let mut browser = Browser::new(&app);

    // A page without a session sends the browser to sign in, then back.
    let page = browser.get("/calls?limit=5").await;
    assert_eq!(page.status(), 303);
    let location = page.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/login?next=/calls%3Flimit%3D5");
    let form = browser.get(&location).await;
    let form_cookie = form.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(form_cookie.contains("HttpOnly") && form_cookie.contains("SameSite=Lax"));
    let html = form.text().await.unwrap();
    assert!(
        html.contains(r#"name="next" value="/calls?limit=5""#),
        "{html}"
    );
    let csrf = csrf_in(&html).unwrap();
    let fields = [
        ("csrf", csrf.as_str()),
        ("username", "alice"),
        ("password", "alice-password"),
        ("next", "/calls?limit=5"),
    ];
    let signed_in = browser.post("/login", &fields).await;
    assert_eq!(signed_in.status(), 303);
    assert_eq!(signed_in.headers()["location"], "/calls?limit=5");

    // The session cookie: HttpOnly, SameSite=Lax, the whole site, seven
    // days, not Secure over plain http.
    let cookies: Vec<&str> = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("callpop_session="))
        .unwrap();
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=604800"] {
        assert!(session.contains(flag), "{flag}: {session}");
    }
    assert!(!session.contains("Secure"), "{session}");
    let secret = browser.cookie("callpop_session").unwrap().to_owned();
    let stored: Vec<(String,)> = sqlx_rows(&app, "SELECT id FROM sessions").await;
    assert_eq!(stored.len(), 1);
    assert_ne!(
        stored[0].0, secret,
        "the store keeps a hash of the cookie, not the cookie"
    );

    // Signed in: the page, with the top bar and a sign-out form.
    let page = browser.get("/calls").await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains("alice") && html.contains("Sign out"),
        "{html}"
    );
    browser.csrf = csrf_in(&html);

    // Already signed in, /login goes straight on.
    let again = browser.get("/login?next=/account").await;
    assert_eq!(again.headers()["location"], "/account");

    // Signing out ends the session on the server too.
    let out = browser.submit("/logout", &[]).await;
    assert_eq!(out.status(), 303);
    assert_eq!(out.headers()["location"], "/login");
    assert_eq!(
        browser.cookie("callpop_session"),
        None,
        "the cookie is removed"
    );
    browser.cookies.insert("callpop_session".into(), secret);
    assert_eq!(
        browser.get("/calls").await.status(),
        303,
        "the old cookie is dead"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_gets_one_message_and_too_many_hold_the_username_back() {
    let app = spawn_app(&[]).await;
    let bob = add_user(&app, "bob", "rep", &["202"], "bob-password").await;
    add_user(&app, "carol", "rep", &["203"], "carol-password").await;
    let change = callpop::store::users::UserChange {
        display_name: String::new(),
        role: callpop::auth::Role::Rep,
        active: false,
        extensions: vec![],
    };
    app.store.update_user(bob, &change).await.unwrap();

    let mut browser = Browser::new(&app);
    let csrf = csrf_in(&browser.get("/login").await.text().await.unwrap()).unwrap();
    let mut try_as = async |username: &str, password: &str| {
        let fields = [
            ("csrf", csrf.as_str()),
            ("username", username),
            ("password", password),
        ];
        let response = browser.post("/login", &fields).await;
        let status = response.status().as_u16();
        let set = response.headers().get_all("set-cookie").iter().count();
        (status, set, response.text().await.unwrap())
    };

    // Wrong password, unknown user, inactive user: the same answer.
    for (username, password) in [
        ("carol", "nope-nope"),
        ("nobody", "nope-nope"),
        ("bob", "bob-password"),
    ] {
        let (status, _, html) = try_as(username, password).await;
        assert_eq!(status, 401, "{username}");
        assert!(
            html.contains("Wrong username or password."),
            "{username}: {html}"
        );
        assert!(!html.contains(password), "the password is not sent back");
    }

    // Ten failures for one name hold that name back, right password or not.
    for _ in 0..9 {
        assert_eq!(try_as("carol", "still-wrong").await.0, 401);
    }
    let (status, cookies, html) = try_as("carol", "carol-password").await;
    assert_eq!((status, cookies), (429, 0));
    assert!(html.contains("Too many failed sign-ins"), "{html}");
    assert_eq!(
        sqlx_rows::<(String,)>(&app, "SELECT id FROM sessions")
            .await
            .len(),
        0
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_its_token_or_from_elsewhere_is_refused_and_writes_nothing() {
    let app = spawn_app(&[]).await;
    let admin = add_user(&app, "root", "admin", &["200"], "root-password").await;
    let other = add_user(&app, "ada", "admin", &[], "ada-password").await;
    let mut browser = session_for(&app, admin).await;
    let others_csrf = session_for(&app, other).await.csrf.unwrap();
    let add = [
        ("username", "mallory"),
        ("role", "admin"),
        ("password", "mallory-pw"),
    ];

    let with = |csrf: &str| {
        let mut fields = vec![("csrf", csrf.to_owned())];
        fields.extend(add.iter().map(|(k, v)| (*k, v.to_string())));
        fields
    };
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        (
            "missing",
            add.iter().map(|(k, v)| (*k, v.to_string())).collect(),
        ),
        (
            "forged",
            with("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ),
        ("another session's", with(&others_csrf)),
        ("empty", with("")),
    ];
    for (what, fields) in cases {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let refused = browser.post("/admin/users", &fields).await;
        assert_eq!(refused.status(), 403, "{what} token");
        assert!(
            refused.text().await.unwrap().contains("Form refused"),
            "{what}"
        );
    }

    // The right token from another site's page is refused too.
    let csrf = browser.csrf.clone().unwrap();
    let fields = with(&csrf);
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cross = browser
        .request(reqwest::Method::POST, "/admin/users")
        .header("origin", "http://evil.example")
        .form(&fields)
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let names: Vec<String> = app
        .store
        .users()
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.username)
        .collect();
    assert_eq!(names, ["ada", "root"], "nothing was written");

    // The sign-in form wants the token of its own cookie.
    let mut stranger = Browser::new(&app);
    let signed = [("username", "root"), ("password", "root-password")];
    let no_cookie = [
        ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        signed[0],
        signed[1],
    ];
    assert_eq!(stranger.post("/login", &no_cookie).await.status(), 403);
    assert!(stranger.cookie("callpop_session").is_none());

    // Scripts on a signed-in page send X-CSRF-Token on anything but GET.
    let dial = json!({"number": "+15550100"});
    let bare = browser
        .request(reqwest::Method::POST, "/api/v1/dial")
        .json(&dial);
    assert_eq!(bare.send().await.unwrap().status(), 403);
    let with_header = browser
        .request(reqwest::Method::POST, "/api/v1/dial")
        .header("x-csrf-token", &csrf)
        .json(&dial);
    assert_eq!(
        with_header.send().await.unwrap().status(),
        503,
        "allowed: no AMI link"
    );
    let read = browser
        .request(reqwest::Method::GET, "/api/v1/me")
        .send()
        .await
        .unwrap();
    assert_eq!(read.json::<Value>().await.unwrap()["username"], "root");

    // And the right token from this page goes through.
    let done = browser.submit("/admin/users", &add).await;
    assert_eq!(done.status(), 303);
    assert_eq!(app.store.users().await.unwrap().len(), 3);
    app.stop().await;
}

/// What a role may get from a route, as the route table says.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Served: anything but 401, 403 and a trip to /login.
    Served,
    SignInFirst,
    Unauthorized,
    Forbidden,
}

fn expect(access: Access, role: Option<callpop::auth::Role>) -> Expect {
    match (access, role) {
        (Access::Open | Access::SignIn, _) => Expect::Served,
        (Access::Page(_), None) => Expect::SignInFirst,
        (Access::Api(_), None) => Expect::Unauthorized,
        (Access::Page(needed) | Access::Api(needed), Some(role)) if role < needed => {
            Expect::Forbidden
        }
        _ => Expect::Served,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_each_role_as_the_route_table_says() {
    use callpop::auth::Role;
    let app = spawn_app(&[]).await;
    let rep = add_user(&app, "rep", "rep", &["201"], "rep-password").await;
    let manager = add_user(&app, "manager", "manager", &["301"], "manager-password").await;
    let admin = add_user(&app, "admin", "admin", &["401"], "admin-password").await;
    let people = [
        (Role::Rep, rep),
        (Role::Manager, manager),
        (Role::Admin, admin),
    ];
    let mut tokens = Vec::new();
    for (role, id) in people {
        tokens.push((role, api_token_for(&app, id).await));
    }

    let table = routes();
    assert!(table.len() >= 25, "{table:?}");
    let mut checked = 0;
    for route in &table {
        // A user's id where a user is meant, ids of nothing elsewhere.
        let path = match route.path {
            "/setup/{token}" => "/setup/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
            p if p.starts_with("/admin/users/{id}") => p.replace("{id}", &rep.to_string()),
            p => p.replace("{id}", "999999"),
        };
        let path = path.replace("{token}", "999999");
        let pops = route.path == "/api/v1/pops";
        let post = route.method == reqwest::Method::POST;

        // Without a session or token.
        let mut nobody = Browser::new(&app);
        let form = nobody.get("/login").await.text().await.unwrap();
        let form_csrf = csrf_in(&form).unwrap();
        let response = match post {
            true => nobody.post(&path, &[("csrf", &form_csrf)]).await,
            false => nobody.get(&path).await,
        };
        check(route, None, &response);
        checked += 1;

        for (role, id) in people {
            // A page or the API from a signed-in browser; sign-in forms
            // with the token of their own cookie.
            let mut browser = session_for(&app, id).await;
            if route.access == Access::SignIn {
                browser
                    .cookies
                    .insert("callpop_csrf".into(), form_csrf.clone());
                browser.csrf = Some(form_csrf.clone());
            }
            let csrf = browser.csrf.clone().unwrap();
            let response = match (post, &route.access) {
                (true, Access::Api(_)) => browser
                    .request(reqwest::Method::POST, &path)
                    .header("x-csrf-token", &csrf)
                    .json(&json!({"number": "+15550100"}))
                    .send()
                    .await
                    .unwrap(),
                (true, _) => browser.submit(&path, &[]).await,
                (false, _) if pops => browser
                    .request(reqwest::Method::GET, &path)
                    .send()
                    .await
                    .unwrap(),
                (false, _) => browser.get(&path).await,
            };
            check(route, Some(role), &response);

            // Every POST from a page wants its token.
            if post && matches!(route.access, Access::Page(r) if role >= r) {
                let bare = session_for(&app, id).await.post(&path, &[]).await;
                assert_eq!(bare.status(), 403, "{} {path} without csrf", route.method);
            }

            // The API with the user's own token.
            if let Access::Api(_) = route.access {
                let token = &tokens.iter().find(|(r, _)| *r == role).unwrap().1;
                let request = app.client.request(route.method.clone(), app.url(&path));
                let request = request
                    .bearer_auth(token)
                    .json(&json!({"number": "+15550100"}));
                check(route, Some(role), &request.send().await.unwrap());
            }
            checked += 1;
        }
    }

    // The bootstrap api.token is an admin on every API route.
    for route in table.iter().filter(|r| matches!(r.access, Access::Api(_))) {
        let path = route.path.replace("{id}", "999999");
        let request = app.client.request(route.method.clone(), app.url(&path));
        let response = request
            .bearer_auth(TOKEN)
            .json(&json!({"number": "+15550100", "extension": "201"}));
        check(route, Some(Role::Admin), &response.send().await.unwrap());
    }
    assert!(checked >= 100, "{checked}");
    app.stop().await;
}

fn check(route: &callpop::web::Route, role: Option<callpop::auth::Role>, r: &reqwest::Response) {
    let status = r.status().as_u16();
    let location = r
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned());
    let to_sign_in = status == 303
        && location
            .as_deref()
            .is_some_and(|l| l.starts_with("/login?next="));
    let what = format!(
        "{} {} as {role:?}: {status} {location:?}",
        route.method, route.path
    );
    match expect(route.access, role) {
        Expect::Served => {
            let refused = matches!(status, 401 | 403) || to_sign_in;
            assert!(!refused && (status < 500 || status == 503), "{what}");
        }
        Expect::SignInFirst => assert!(to_sign_in, "{what}"),
        Expect::Unauthorized => assert_eq!(status, 401, "{what}"),
        Expect::Forbidden => assert_eq!(status, 403, "{what}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_token_acts_as_its_user_is_shown_once_and_stored_hashed() {
    let app = spawn_app(&[]).await;
    add_user(&app, "rita", "rep", &["201", "202"], "rita-password").await;
    let mut browser = sign_in(&app, "rita", "rita-password").await;

    // Made on the account page, shown on the answer and never again.
    let made = browser
        .submit("/account/tokens", &[("name", "laptop agent")])
        .await;
    assert_eq!(made.status(), 201);
    let html = made.text().await.unwrap();
    let token = token_in(&html).expect("the new token is on the page");
    let later = browser.get("/account").await.text().await.unwrap();
    assert!(
        !later.contains(&token) && later.contains("laptop agent"),
        "{later}"
    );

    // The database holds its hash only.
    let rows: Vec<(String, String)> = sqlx_rows(&app, "SELECT name, hash FROM api_tokens").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, callpop::auth::secret::digest(&token));
    assert!(
        !database_text(&app).await.contains(&token[4..]),
        "no plaintext anywhere in the database"
    );

    // It acts as rita: a rep.
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], "rita");
    assert_eq!(me["role"], "rep");
    assert_eq!(me["extensions"], json!(["201", "202"]));
    let links = app
        .client
        .get(app.url("/api/v1/links"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(links.status(), 403, "links are for managers and admins");

    // Revoked, it is refused.
    let id = app
        .store
        .api_tokens(me["id"].as_i64().unwrap())
        .await
        .unwrap()[0]
        .id;
    let revoked = browser
        .submit(&format!("/account/tokens/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status(), 303);
    let refused = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    app.stop().await;
}

/// The first `cpt_` token in a page.
fn token_in(html: &str) -> Option<String> {
    let start = html.find("cpt_")?;
    let token: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    Some(token)
}

/// Rows of a query on the test daemon's database.
async fn sqlx_rows<T>(app: &TestApp, sql: &str) -> Vec<T>
where
    T: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow> + Send + Unpin,
{
    let pool = sqlx::SqlitePool::connect(&app.database_url).await.unwrap();
    let rows = sqlx::query_as(sql).fetch_all(&pool).await.unwrap();
    pool.close().await;
    rows
}

/// Every text value in the user tables, joined, to search for secrets.
async fn database_text(app: &TestApp) -> String {
    let mut text = String::new();
    for sql in [
        "SELECT name || ' ' || hash FROM api_tokens",
        "SELECT id || ' ' || csrf FROM sessions",
        "SELECT username || ' ' || COALESCE(password_hash, '') FROM users",
        "SELECT id FROM setup_tokens",
    ] {
        for (row,) in sqlx_rows::<(String,)>(app, sql).await {
            text.push_str(&row);
            text.push('\n');
        }
    }
    text
}

/// Runs the built binary on the test daemon's database, with `stdin`.
pub(crate) fn callpop(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .env("CALLPOP_DATABASE__URL", &app.database_url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_add_on_the_command_line_then_sign_in_and_use_a_token_from_token_create() {
    let app = spawn_app(&[]).await;
    let args = [
        "user",
        "add",
        "carol",
        "--role",
        "manager",
        "--extension",
        "301",
        "--extension",
        "302",
        "--name",
        "Carol Chief",
        "--password-stdin",
    ];
    let added = callpop(&app, &args, "carol-s3cret\n");
    let stdout = String::from_utf8_lossy(&added.stdout);
    assert!(
        added.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(
        stdout.contains("added carol (manager) \"Carol Chief\", extensions 301 302"),
        "{stdout}"
    );

    // Mistakes say what is wrong and change nothing.
    let twice = callpop(&app, &args, "carol-s3cret\n");
    assert!(!twice.status.success());
    assert!(String::from_utf8_lossy(&twice.stderr).contains("taken"));
    let short = callpop(
        &app,
        &["user", "add", "dan", "--role", "rep", "--password-stdin"],
        "short\n",
    );
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 8 characters"));
    let no_tty = callpop(&app, &["user", "add", "dan", "--role", "rep"], "");
    assert!(String::from_utf8_lossy(&no_tty.stderr).contains("--password-stdin"));
    let role = callpop(
        &app,
        &["user", "add", "dan", "--role", "boss", "--password-stdin"],
        "",
    );
    assert!(String::from_utf8_lossy(&role.stderr).contains("rep, manager or admin"));
    let listed = callpop(&app, &["user", "list"], "");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), 1);

    // Carol signs in with that password.
    let mut browser = sign_in(&app, "carol", "carol-s3cret").await;
    let me = browser
        .get("/api/v1/me")
        .await
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(me["name"], "Carol Chief");
    assert_eq!(me["extensions"], json!(["301", "302"]));

    // A new password ends her sessions; the old one stops working.
    let passwd = callpop(
        &app,
        &["user", "passwd", "carol", "--password-stdin"],
        "carol-n3w-pass\n",
    );
    assert!(passwd.status.success());
    assert_eq!(browser.get("/calls").await.status(), 303, "signed out");
    sign_in(&app, "carol", "carol-n3w-pass").await;

    // A token from the command line: printed once, on stdout alone.
    let made = callpop(
        &app,
        &["token", "create", "desk agent", "--user", "carol"],
        "",
    );
    assert!(made.status.success());
    let token = String::from_utf8_lossy(&made.stdout).trim().to_owned();
    assert!(token.starts_with("cpt_") && !token.contains(' '), "{token}");
    assert!(String::from_utf8_lossy(&made.stderr).contains("shown only now"));
    let me = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.json::<Value>().await.unwrap()["username"], "carol");
    let listed = callpop(&app, &["token", "list", "--user", "carol"], "");
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("desk agent") && !listed.contains(&token),
        "{listed}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_rings_the_reps_own_extension_and_never_anothers() {
    let app = spawn_app(&[]).await;
    let alice = add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    add_user(&app, "bob", "rep", &["202"], "bob-password").await;
    let nobody = add_user(&app, "nemo", "rep", &[], "nemo-password").await;
    let admin = add_user(&app, "root", "admin", &[], "root-password").await;
    let token = api_token_for(&app, alice).await;
    let dial = async |token: &str, body: Value| {
        let request = app
            .client
            .post(app.url("/api/v1/dial"))
            .bearer_auth(token)
            .json(&body);
        let response = request.send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };

    // Her own extension, named or not, is allowed: no AMI link here, so 503.
    let (status, body) = dial(&token, json!({"number": "+1 555 019 9902"})).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        dial(&token, json!({"number": "5550100", "extension": "201"}))
            .await
            .0,
        503
    );
    // Bob's is refused, and so is a rep with none.
    let (status, body) = dial(&token, json!({"number": "5550100", "extension": "202"})).await;
    assert_eq!(status, 403);
    assert!(body.contains("202 is not one of yours"), "{body}");
    let none = api_token_for(&app, nobody).await;
    assert_eq!(dial(&none, json!({"number": "5550100"})).await.0, 400);
    // Admins may ring any extension.
    let root = api_token_for(&app, admin).await;
    assert_eq!(
        dial(&root, json!({"number": "5550100", "extension": "202"}))
            .await
            .0,
        503
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rep_gets_the_pops_and_calls_of_their_own_extensions_only() {
    let app = spawn_app(&[]).await;
    let alice = add_user(&app, "alice", "rep", &["201"], "alice-password").await;
    let bob = add_user(&app, "bob", "rep", &["202"], "bob-password").await;
    let boss = add_user(&app, "boss", "manager", &[], "boss-password").await;
    let (alice_token, bob_token) = (
        api_token_for(&app, alice).await,
        api_token_for(&app, bob).await,
    );
    let boss_token = api_token_for(&app, boss).await;

    // Without extension=, a stream follows the token's own extensions.
    let mut alices = pops_with(&app, &alice_token, "").await;
    let mut bobs = pops_with(&app, &bob_token, "").await;
    let mut boss_on_201 = pops_with(&app, &boss_token, "?extension=201").await;
    let stolen = app
        .client
        .get(app.url("/api/v1/pops?extension=201"))
        .bearer_auth(&bob_token);
    assert_eq!(
        stolen.send().await.unwrap().status(),
        403,
        "a rep watches only their own"
    );

    let udp = SipUdp::new(app.sip).await;
    let invite = Request::new("INVITE", "201", "+12125550142");
    let answers = udp.exchange(&invite, 180).await;
    assert_eq!(status(answers.last().unwrap()), 180);
    let pop = alices.next(WAIT).await.expect("alice's pop");
    assert_eq!(
        (pop.event.as_str(), pop.data["extension"].as_str()),
        ("pop", Some("201"))
    );
    assert!(
        boss_on_201.next(WAIT).await.is_some(),
        "managers watch any extension"
    );
    assert!(
        bobs.next(Duration::from_millis(500)).await.is_none(),
        "nothing for bob"
    );
    let call_id = pop.data["call_id"].as_i64().unwrap();

    // Calls: alice sees hers, bob does not, the manager sees all.
    let count = async |token: &str| {
        let response = app
            .client
            .get(app.url("/api/v1/calls"))
            .bearer_auth(token)
            .send()
            .await;
        response.unwrap().json::<Vec<Value>>().await.unwrap().len()
    };
    assert_eq!(
        (
            count(&alice_token).await,
            count(&bob_token).await,
            count(&boss_token).await
        ),
        (1, 0, 1)
    );
    let one = format!("/api/v1/calls/{call_id}");
    let theirs = app
        .client
        .get(app.url(&one))
        .bearer_auth(&bob_token)
        .send()
        .await
        .unwrap();
    assert_eq!(theirs.status(), 403);
    let page = format!("/calls/{call_id}");
    assert_eq!(session_for(&app, bob).await.get(&page).await.status(), 403);
    assert_eq!(
        session_for(&app, alice).await.get(&page).await.status(),
        200
    );
    let list = session_for(&app, bob)
        .await
        .get("/calls")
        .await
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("Your calls") && !list.contains(&format!("/calls/{call_id}")),
        "{list}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_add_change_and_deactivate_users_and_keep_one_admin() {
    let app = spawn_app(&[]).await;
    let root = add_user(&app, "root", "admin", &["200"], "root-password").await;
    let mut admin = session_for(&app, root).await;

    // Add a rep; an extension already taken is named.
    let add = [
        ("username", "eve"),
        ("display_name", "Eve"),
        ("role", "rep"),
        ("extensions", "201, 202"),
        ("password", "eve-password"),
    ];
    let added = admin.submit("/admin/users", &add).await;
    assert_eq!(added.status(), 303);
    let clash = [("username", "fay"), ("role", "rep"), ("extensions", "202")];
    let refused = admin.submit("/admin/users", &clash).await;
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("extension 202 already belongs to eve"));
    let eve = app.store.user_by_username("eve").await.unwrap().unwrap();
    let mut eves = sign_in(&app, "eve", "eve-password").await;
    assert_eq!(eves.get("/admin/users").await.status(), 403);

    // Make her a manager with one extension, then deactivate her.
    let path = format!("/admin/users/{}", eve.id);
    let edit = [
        ("display_name", "Eve E."),
        ("role", "manager"),
        ("extensions", "202"),
        ("active", "on"),
    ];
    assert_eq!(admin.submit(&path, &edit).await.status(), 303);
    let now = app.store.user(eve.id).await.unwrap().unwrap();
    assert_eq!(
        (now.role.as_str(), now.extensions.clone()),
        ("manager", vec!["202".to_owned()])
    );
    let off = [
        ("display_name", "Eve E."),
        ("role", "manager"),
        ("extensions", "202"),
    ];
    assert_eq!(admin.submit(&path, &off).await.status(), 303);
    assert_eq!(
        eves.get("/calls").await.status(),
        303,
        "signed out when deactivated"
    );

    // The last admin cannot demote themselves.
    let demote = [("role", "rep"), ("active", "on")];
    let kept = admin.submit(&format!("/admin/users/{root}"), &demote).await;
    assert_eq!(kept.status(), 400);
    assert!(kept
        .text()
        .await
        .unwrap()
        .contains("at least one active admin"));

    // A new password signs the user out everywhere.
    let other = session_for(&app, root).await;
    let reset = [
        ("password", "root-n3w-pass"),
        ("password_again", "root-n3w-pass"),
    ];
    let done = admin
        .submit(&format!("/admin/users/{root}/password"), &reset)
        .await;
    assert_eq!(done.status(), 303);
    assert_eq!(
        admin.get("/admin/users").await.status(),
        200,
        "the admin's own session stays"
    );
    let mut other = other;
    assert_eq!(other.get("/admin/users").await.status(), 303);
    app.stop().await;
}
