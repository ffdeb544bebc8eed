//! Release model administration: editing a model makes a new version that only releases
//! registered afterwards get; old versions stay readable; validation, permissions, stale
//! forms, creating, retiring and restoring.
use diesel::prelude::*;
use relman::domain::roles::Role;
use relman::schema::{
    categories, model_tasks, phases, release_model_versions as versions, release_models, releases,
    tasks, workflows,
};
use scraper::{Html, Selector};

use crate::support::{Client, Page, TestApp};

fn model_id(app: &TestApp, name: &str) -> i64 {
    release_models::table
        .filter(release_models::name.eq(name))
        .select(release_models::id)
        .first(&mut app.conn())
        .unwrap()
}

/// (version number, version id) of every version of a model, oldest first.
fn versions_of(app: &TestApp, model: i64) -> Vec<(i32, i64)> {
    versions::table
        .filter(versions::model_id.eq(model))
        .order(versions::version)
        .select((versions::version, versions::id))
        .load(&mut app.conn())
        .unwrap()
}

fn planned_titles(app: &TestApp, version_id: i64) -> Vec<String> {
    model_tasks::table
        .filter(model_tasks::model_version_id.eq(version_id))
        .select(model_tasks::title)
        .load(&mut app.conn())
        .unwrap()
}

/// The id of a phase of the out-of-box release workflow (or of the change workflow).
fn phase_id(app: &TestApp, workflow: &str, phase: &str) -> String {
    phases::table
        .inner_join(workflows::table)
        .filter(workflows::name.eq(workflow))
        .filter(phases::name.eq(phase))
        .select(phases::id)
        .first::<i64>(&mut app.conn())
        .unwrap()
        .to_string()
}

fn release_workflow(app: &TestApp) -> String {
    categories::table
        .inner_join(workflows::table)
        .filter(categories::name.eq("Release Management"))
        .select(workflows::name)
        .first(&mut app.conn())
        .unwrap()
}

/// A second workflow with its own "Assess" phase: the id of that phase.
fn phase_of_another_workflow(app: &TestApp) -> String {
    use relman::models::workflows::{self as wfm, PhaseValues};
    let mut conn = app.conn();
    let w = wfm::insert_workflow(&mut conn, "Hardware", "Servers and networks", "release").unwrap();
    let v = PhaseValues {
        name: "Assess".into(),
        description: String::new(),
        duration_hours: 24,
        emergency_duration_hours: 4,
        condition: "always".into(),
        record_types: Vec::new(),
    };
    wfm::insert_phase(&mut conn, w, 1, &v).unwrap().to_string()
}

/// Register a minor release from the model as a coordinator; its number (`RL-000001`).
async fn register(c: &Client, model: i64, title: &str) -> String {
    let model = model.to_string();
    let p = c
        .post(
            "/releases/new",
            &[
                ("category", "1"),
                ("type", "minor"),
                ("model", &model),
                ("title", title),
                ("description", "Small fixes"),
                ("reason", "business_requirement"),
                ("impact", "low"),
                ("urgency", "low"),
                ("planned_start", "2026-12-01T09:00"),
                ("planned_end", "2026-12-20T17:00"),
            ],
        )
        .await;
    assert_eq!(p.status, 303, "{}", p.body);
    p.location
        .unwrap()
        .trim_start_matches("/releases/")
        .to_string()
}

/// (model version id, task titles) of a release.
fn release_plan(app: &TestApp, number: &str) -> (Option<i64>, Vec<String>) {
    let n: i64 = number.trim_start_matches("RL-").parse().unwrap();
    let (id, v): (i64, Option<i64>) = releases::table
        .filter(releases::number.eq(n))
        .select((releases::id, releases::model_version_id))
        .first(&mut app.conn())
        .unwrap();
    (
        v,
        tasks::table
            .filter(tasks::release_id.eq(id))
            .select(tasks::title)
            .load(&mut app.conn())
            .unwrap(),
    )
}

/// The model's edit form as a browser would send it (unticked boxes left out).
struct EditForm {
    action: String,
    fields: Vec<(String, String)>,
}

impl EditForm {
    fn read(page: &Page, action: &str) -> EditForm {
        let doc = Html::parse_document(&page.body);
        let form_sel = Selector::parse(&format!("form[action=\"{action}\"]")).unwrap();
        let form = doc
            .select(&form_sel)
            .find(|f| {
                f.select(&Selector::parse("input[name=rows]").unwrap())
                    .next()
                    .is_some()
            })
            .expect("the edit form");
        let mut fields = Vec::new();
        for el in form.select(&Selector::parse("input, select, textarea").unwrap()) {
            let v = el.value();
            let Some(name) = v.attr("name") else { continue };
            let value = match v.name() {
                "input" if v.attr("type") == Some("checkbox") => match v.attr("checked") {
                    Some(_) => v.attr("value").unwrap_or("on").to_string(),
                    None => continue,
                },
                "input" => v.attr("value").unwrap_or("").to_string(),
                "textarea" => el.text().collect(),
                _ => {
                    let opts: Vec<_> = el.select(&Selector::parse("option").unwrap()).collect();
                    let chosen = opts
                        .iter()
                        .find(|o| o.value().attr("selected").is_some())
                        .or(opts.first());
                    chosen
                        .and_then(|o| o.value().attr("value"))
                        .unwrap_or("")
                        .to_string()
                }
            };
            fields.push((name.to_string(), value));
        }
        EditForm {
            action: action.to_string(),
            fields,
        }
    }

    fn get(&self, name: &str) -> String {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    fn set(&mut self, name: &str, value: &str) {
        match self.fields.iter_mut().find(|(k, _)| k == name) {
            Some(f) => f.1 = value.to_string(),
            None => self.fields.push((name.to_string(), value.to_string())),
        }
    }

    /// The row index of the task with this title.
    fn row_of(&self, title: &str) -> usize {
        let rows: usize = self.get("rows").parse().unwrap();
        (0..rows)
            .find(|i| self.get(&format!("t{i}_title")) == title)
            .unwrap_or_else(|| panic!("no row {title}"))
    }

    /// The first blank row for a new task.
    fn blank_row(&self) -> usize {
        self.get("existing").parse().unwrap()
    }

    fn fill(&mut self, row: usize, values: &[(&str, &str)]) {
        for (k, v) in values {
            self.set(&format!("t{row}_{k}"), v);
        }
    }

    async fn post(&self, c: &Client) -> Page {
        let fields: Vec<(&str, &str)> = self
            .fields
            .iter()
            .filter(|(k, _)| k != "csrf_token")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        c.post(&self.action, &fields).await
    }
}

#[tokio::test]
async fn editing_a_model_makes_version_2_and_only_releases_registered_afterwards_get_it() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let cora = app.signed_in("cora", &[Role::Coordinator]).await;
    let minor = model_id(&app, "Minor release");
    let path = format!("/admin/models/{minor}");
    let before = register(&cora, minor, "Before the edit").await;

    let page = m.get(&path).await;
    page.assert_status(200)
        .assert_contains("Release model: Minor release")
        .assert_contains("Current version: version 1");
    page.assert_contains("Update system")
        .assert_contains("Evaluate and close")
        .assert_contains("Coordinator of the release");
    page.assert_contains("1 day after the phase starts")
        .assert_contains("Save as version 2");
    let mut form = EditForm::read(&page, &path);
    let drop = form.row_of("Evaluate and close");
    form.set(&format!("t{drop}_remove"), "1");
    let new = form.blank_row();
    let rollout = phase_id(&app, &release_workflow(&app), "Distribution and Rollout");
    form.fill(
        new,
        &[
            ("title", "Notify the service desk"),
            ("description", "Tell the desk what changes."),
            ("phase", &rollout),
            ("offset", "4"),
            ("unit", "hours"),
        ],
    );
    form.post(&m).await.assert_redirect_to(&path);

    let page = m.get(&path).await;
    page.assert_contains("Version 2 was saved")
        .assert_contains("Current version: version 2")
        .assert_contains("Notify the service desk");
    page.assert_contains("4 hours after the phase starts")
        .assert_contains(&format!("href=\"/admin/models/{minor}/versions/1\""));
    let vs = versions_of(&app, minor);
    assert_eq!(vs.iter().map(|v| v.0).collect::<Vec<_>>(), vec![1, 2]);
    let (v1, v2) = (vs[0].1, vs[1].1);
    let old = planned_titles(&app, v1);
    assert!(
        old.contains(&"Evaluate and close".to_string())
            && !old.contains(&"Notify the service desk".to_string()),
        "{old:?}"
    );
    let new_plan = planned_titles(&app, v2);
    assert!(
        new_plan.contains(&"Notify the service desk".to_string())
            && !new_plan.contains(&"Evaluate and close".to_string()),
        "{new_plan:?}"
    );
    assert_eq!(new_plan.len(), old.len(), "one task removed, one added");

    // Version 1 stays readable at its own address, saved out of the box.
    let v1_page = m.get(&format!("/admin/models/{minor}/versions/1")).await;
    v1_page
        .assert_status(200)
        .assert_contains("Minor release, version 1")
        .assert_contains("earlier version");
    v1_page
        .assert_contains("Evaluate and close")
        .assert_lacks("Notify the service desk")
        .assert_contains("Relman (out of the box)");
    let v2_page = m.get(&format!("/admin/models/{minor}/versions/2")).await;
    v2_page
        .assert_status(200)
        .assert_contains("This is the current version")
        .assert_contains("Notify the service desk")
        .assert_contains("mia (test)");
    m.get(&format!("/admin/models/{minor}/versions/3"))
        .await
        .assert_status(404);

    // The release registered before keeps version 1's tasks.
    let (version, titles) = release_plan(&app, &before);
    assert_eq!(version, Some(v1));
    assert!(
        titles.contains(&"Evaluate and close".to_string())
            && !titles.contains(&"Notify the service desk".to_string()),
        "{titles:?}"
    );

    // A release registered now gets version 2's plan.
    let after = register(&cora, minor, "After the edit").await;
    let (version, titles) = release_plan(&app, &after);
    assert_eq!(version, Some(v2));
    assert!(
        titles.contains(&"Notify the service desk".to_string())
            && !titles.contains(&"Evaluate and close".to_string()),
        "{titles:?}"
    );

    // The list shows the new version.
    let list = m.get("/admin/models").await;
    list.assert_status(200)
        .assert_contains("Minor release</a></th>\n      <td>2</td>");
}

#[tokio::test]
async fn saving_an_unchanged_form_makes_no_version() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let major = model_id(&app, "Major release");
    let path = format!("/admin/models/{major}");
    let form = EditForm::read(&m.get(&path).await, &path);
    form.post(&m).await.assert_redirect_to(&path);
    m.get(&path)
        .await
        .assert_contains("Nothing had changed")
        .assert_contains("Current version: version 1");
    assert_eq!(versions_of(&app, major).len(), 1);
}

#[tokio::test]
async fn invalid_rows_are_refused_with_messages_beside_them_and_the_input_kept() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let minor = model_id(&app, "Minor release");
    let path = format!("/admin/models/{minor}");
    let mut form = EditForm::read(&m.get(&path).await, &path);
    let wf = release_workflow(&app);
    let assess = phase_id(&app, &wf, "Assess");
    let new = form.blank_row();
    // A new row with everything but a title.
    form.fill(
        new,
        &[
            ("description", "Tell the desk what changes."),
            ("phase", &assess),
            ("offset", "2"),
            ("unit", "days"),
        ],
    );
    // An offset beyond a year, and a phase of another workflow.
    form.fill(
        new + 1,
        &[
            ("title", "Far too late"),
            ("phase", &assess),
            ("offset", "400"),
            ("unit", "days"),
        ],
    );
    let other = phase_of_another_workflow(&app);
    form.fill(
        new + 2,
        &[
            ("title", "Wrong workflow"),
            ("phase", &other),
            ("offset", "9000"),
            ("unit", "hours"),
        ],
    );
    let update = form.row_of("Update system");
    form.set(&format!("t{update}_title"), "");

    let p = form.post(&m).await;
    p.assert_status(422).assert_contains("There is a problem");
    let n = new + 1;
    p.assert_contains(&format!("Task {n}: enter a title, or clear the row."));
    p.assert_contains(&format!(
        "Task {}: the due offset must be a whole number from 0 to 8760 hours (365 days).",
        n + 1
    ));
    p.assert_contains(&format!(
        "Task {}: choose a phase of the workflow of Release Management.",
        n + 2
    ));
    p.assert_contains(&format!(
        "Task {}: enter a title, or tick “Remove”.",
        update + 1
    ));
    // Beside the field, linked from the summary, and the input kept.
    p.assert_contains(&format!("<p class=\"field-error\" id=\"e-t{new}_title\">"));
    p.assert_contains(&format!("href=\"#f-t{new}_title\""));
    p.assert_contains(&format!(
        "aria-describedby=\"e-t{}_offset\" aria-invalid=\"true\"",
        new + 1
    ));
    p.assert_contains(">Tell the desk what changes.</textarea>")
        .assert_contains("value=\"Far too late\"")
        .assert_contains("value=\"400\"");
    p.assert_contains("value=\"Wrong workflow\"")
        .assert_contains("value=\"9000\"");
    let kept = EditForm::read(&p, &path);
    assert_eq!(kept.get(&format!("t{new}_phase")), assess);
    assert_eq!(kept.get(&format!("t{new}_unit")), "days");
    assert_eq!(kept.get("version"), "1");
    assert_eq!(versions_of(&app, minor).len(), 1, "nothing saved");

    // A negative or non-numeric offset, and a missing one.
    let mut form = EditForm::read(&m.get(&path).await, &path);
    let new = form.blank_row();
    form.fill(
        new,
        &[
            ("title", "Check"),
            ("phase", &assess),
            ("offset", "-1"),
            ("unit", "hours"),
        ],
    );
    form.fill(
        new + 1,
        &[
            ("title", "Check again"),
            ("phase", &assess),
            ("offset", "soon"),
        ],
    );
    form.fill(
        new + 2,
        &[("title", "No offset"), ("phase", &assess), ("offset", "")],
    );
    let p = form.post(&m).await;
    p.assert_status(422);
    p.assert_contains(&format!(
        "Task {}: the due offset must be a whole number",
        new + 1
    ));
    p.assert_contains(&format!(
        "Task {}: the due offset must be a whole number",
        new + 2
    ));
    p.assert_contains(&format!("Task {}: enter the due offset", new + 3));
    assert_eq!(versions_of(&app, minor).len(), 1, "nothing saved");
}

#[tokio::test]
async fn coordinators_may_neither_see_nor_change_models() {
    let app = TestApp::spawn().await;
    let c = app.signed_in("cora", &[Role::Coordinator]).await;
    let minor = model_id(&app, "Minor release");
    let path = format!("/admin/models/{minor}");
    c.get("/").await.assert_lacks("Release models");
    for p in [
        "/admin/models".to_string(),
        path.clone(),
        format!("{path}/versions/1"),
        format!("{path}/retire"),
    ] {
        c.get(&p)
            .await
            .assert_status(403)
            .assert_contains("Only release managers");
    }
    let post = [
        ("version", "1"),
        ("rows", "0"),
        ("existing", "0"),
        ("description", "Hijacked"),
        ("release_type", "minor"),
        ("category", "1"),
    ];
    c.post(&path, &post).await.assert_status(403);
    c.post(
        "/admin/models",
        &[
            ("name", "Mine"),
            ("release_type", "minor"),
            ("category", "1"),
        ],
    )
    .await
    .assert_status(403);
    c.post(&format!("{path}/retire"), &[])
        .await
        .assert_status(403);
    c.post(&format!("{path}/restore"), &[])
        .await
        .assert_status(403);
    assert_eq!(versions_of(&app, minor).len(), 1);
    assert_eq!(
        release_models::table
            .count()
            .get_result::<i64>(&mut app.conn())
            .unwrap(),
        3
    );
    let retired: bool = release_models::table
        .find(minor)
        .select(release_models::retired)
        .first(&mut app.conn())
        .unwrap();
    assert!(!retired);

    let m = app.signed_in("mia", &[Role::Manager]).await;
    m.get("/")
        .await
        .assert_contains("<a href=\"/admin/models\">Release models</a>");
}

#[tokio::test]
async fn a_stale_form_gets_a_conflict_keeps_the_input_and_saves_nothing() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let other = app.signed_in("max", &[Role::Manager]).await;
    let minor = model_id(&app, "Minor release");
    let path = format!("/admin/models/{minor}");
    let mut mine = EditForm::read(&m.get(&path).await, &path);
    let mut theirs = EditForm::read(&other.get(&path).await, &path);

    theirs.set("description", "Saved first by Max.");
    theirs.post(&other).await.assert_redirect_to(&path);

    let row = mine.blank_row();
    let assess = phase_id(&app, &release_workflow(&app), "Assess");
    mine.fill(
        row,
        &[
            ("title", "Check the licence count"),
            ("phase", &assess),
            ("offset", "1"),
            ("unit", "days"),
        ],
    );
    let p = mine.post(&m).await;
    p.assert_status(409)
        .assert_contains("A newer version was saved: nothing was saved");
    p.assert_contains("max (test) saved version 2")
        .assert_contains("value=\"Check the licence count\"");
    p.assert_contains("Saved first by Max.")
        .assert_contains("Current version: version 2");
    let vs = versions_of(&app, minor);
    assert_eq!(vs.len(), 2);
    assert!(!planned_titles(&app, vs[1].1).contains(&"Check the licence count".to_string()));

    // Saving the kept form again is a deliberate choice: it becomes version 3.
    let again = EditForm::read(&p, &path);
    assert_eq!(again.get("version"), "2");
    again.post(&m).await.assert_redirect_to(&path);
    let vs = versions_of(&app, minor);
    assert_eq!(vs.len(), 3);
    assert!(planned_titles(&app, vs[2].1).contains(&"Check the licence count".to_string()));
}

#[tokio::test]
async fn a_manager_creates_a_model_from_a_copy_then_retires_and_restores_it() {
    let app = TestApp::spawn().await;
    let m = app.signed_in("mia", &[Role::Manager]).await;
    let cora = app.signed_in("cora", &[Role::Coordinator]).await;
    let minor = model_id(&app, "Minor release");
    let list = m.get("/admin/models").await;
    list.assert_status(200)
        .assert_contains("Release models (3)")
        .assert_contains("Emergency fix");

    let p = m
        .post(
            "/admin/models",
            &[
                ("name", "minor RELEASE"),
                ("release_type", "minor"),
                ("category", "1"),
                ("copy_from", ""),
            ],
        )
        .await;
    p.assert_status(422)
        .assert_contains("There is already a model called minor RELEASE")
        .assert_contains("value=\"minor RELEASE\"");
    let p = m
        .post(
            "/admin/models",
            &[
                ("name", ""),
                ("release_type", "weekly"),
                ("category", "999"),
                ("copy_from", ""),
            ],
        )
        .await;
    p.assert_status(422)
        .assert_contains("Enter a name for the model.")
        .assert_contains("Choose the default release type")
        .assert_contains("Choose a release category from the list.");

    let copy = minor.to_string();
    let p = m
        .post(
            "/admin/models",
            &[
                ("name", "Hardware refresh"),
                ("description", "New servers."),
                ("release_type", "major"),
                ("category", "1"),
                ("copy_from", &copy),
            ],
        )
        .await;
    let id = model_id(&app, "Hardware refresh");
    let path = format!("/admin/models/{id}");
    p.assert_redirect_to(&path);
    let vs = versions_of(&app, id);
    assert_eq!(vs.len(), 1);
    assert_eq!(
        planned_titles(&app, vs[0].1).len(),
        planned_titles(&app, versions_of(&app, minor)[0].1).len()
    );
    m.get(&path)
        .await
        .assert_contains("was created as version 1")
        .assert_contains("Update system")
        .assert_contains("New servers.");

    // An empty plan.
    m.post(
        "/admin/models",
        &[
            ("name", "Bare"),
            ("release_type", "minor"),
            ("category", "1"),
            ("copy_from", ""),
        ],
    )
    .await
    .assert_status(303);
    assert!(planned_titles(&app, versions_of(&app, model_id(&app, "Bare"))[0].1).is_empty());

    m.get(&format!("{path}/retire"))
        .await
        .assert_status(200)
        .assert_contains("Retire the release model Hardware refresh?");
    m.post(&format!("{path}/retire"), &[])
        .await
        .assert_redirect_to(&path);
    m.get(&path)
        .await
        .assert_contains("Hardware refresh was retired")
        .assert_contains("Restore Hardware refresh");
    cora.get("/releases/new")
        .await
        .assert_status(200)
        .assert_lacks("Hardware refresh")
        .assert_contains("Minor release");
    m.get("/admin/models").await.assert_contains("Retired");

    m.post(&format!("{path}/restore"), &[])
        .await
        .assert_redirect_to(&path);
    m.get(&path)
        .await
        .assert_contains("Hardware refresh is restored");
    cora.get("/releases/new")
        .await
        .assert_contains("Hardware refresh");
}
