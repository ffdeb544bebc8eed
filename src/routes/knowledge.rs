//! Knowledge: lessons learned, searched at `/knowledge`, published from a release.
use actix_web::{get, post, web, HttpResponse};
use askama::Template;
use serde::Deserialize;

use super::{invalid, page, see_other, Sent};
use crate::auth::CurrentUser;
use crate::db::{self, DbPool};
use crate::domain::workflow::RecordKind;
use crate::error::{AppError, AppResult};
use crate::forms::{Form, FormErrors};
use crate::models::releases as rel;
use crate::paths;
use crate::services::knowledge::{self as svc, Article, ArticleInput};
use crate::services::submissions;
use crate::views::{self, Ctx};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(list)
        .service(show)
        .service(publish_form)
        .service(publish);
}

#[derive(Template)]
#[template(path = "knowledge/list.html")]
struct ListPage {
    ctx: Ctx,
    q: String,
    articles: Vec<Article>,
}

#[derive(Deserialize)]
struct Search {
    #[serde(default)]
    q: String,
}

/// GET /knowledge
#[get("/knowledge")]
async fn list(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    q: web::Query<Search>,
) -> AppResult<HttpResponse> {
    let text = q.into_inner().q;
    let t2 = text.clone();
    let articles = db::run(&pool, move |conn| Ok(svc::search(conn, &t2, 100)?)).await?;
    page(&ListPage {
        ctx: user.ctx(),
        q: text,
        articles,
    })
}

#[derive(Template)]
#[template(path = "knowledge/show.html")]
struct ArticlePage {
    ctx: Ctx,
    a: Article,
    published: String,
}

/// GET /knowledge/{id}
#[get("/knowledge/{id}")]
async fn show(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<i64>,
) -> AppResult<HttpResponse> {
    let id = path.into_inner();
    let a = db::run(&pool, move |conn| svc::find(conn, id)).await?;
    let published = views::datetime(&a.published_at);
    page(&ArticlePage {
        ctx: user.ctx(),
        a,
        published,
    })
}

#[derive(Template)]
#[template(path = "knowledge/publish.html")]
struct PublishPage {
    ctx: Ctx,
    number: String,
    href: String,
    input: ArticleInput,
    errors: FormErrors,
}

async fn publish_page(
    user: &CurrentUser,
    pool: &DbPool,
    number: i64,
    input: Option<ArticleInput>,
    errors: FormErrors,
) -> AppResult<PublishPage> {
    let actor = user.actor();
    let mut input = match input {
        Some(i) => i,
        None => {
            db::run(pool, move |conn| {
                let r = rel::by_kind_number(conn, "release", number)?;
                let d = rel::details(conn, r.id)?;
                if let Some(why) = svc::publish_refusal(actor, &r, &d.evaluation) {
                    return Err(AppError::Forbidden(why.into()));
                }
                Ok(ArticleInput {
                    title: format!("Lessons learned: {}", r.title),
                    body: d.evaluation,
                    affected_services: d.affected_services,
                    submission_key: String::new(),
                })
            })
            .await?
        }
    };
    submissions::issue(&mut input.submission_key);
    Ok(PublishPage {
        ctx: user.ctx(),
        number: paths::release_number(number),
        href: paths::release(number),
        input,
        errors,
    })
}

/// GET /releases/{number}/publish
#[get("/releases/{number}/publish")]
async fn publish_form(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
) -> AppResult<HttpResponse> {
    let number = super::releases::parse_kind_number(RecordKind::Release, &path)?;
    page(&publish_page(&user, &pool, number, None, FormErrors::default()).await?)
}

/// POST /releases/{number}/publish
#[post("/releases/{number}/publish")]
async fn publish(
    user: CurrentUser,
    pool: web::Data<DbPool>,
    path: web::Path<String>,
    form: Form<ArticleInput>,
) -> AppResult<HttpResponse> {
    let number = super::releases::parse_kind_number(RecordKind::Release, &path)?;
    let input = form.into_inner();
    let (actor, i2) = (user.actor(), input.clone());
    let create = move |conn: &mut diesel::PgConnection| svc::publish(conn, actor, number, &i2);
    let article = |id: &i64| paths::knowledge_article(*id);
    match super::create_once(&user, &pool, &input.submission_key, create, article).await? {
        Sent::Again(to_first) => Ok(to_first),
        Sent::Created(_, path) => {
            user.flash("success", "The lessons learned were published.");
            Ok(see_other(path))
        }
        Sent::Invalid(errors) => {
            invalid(&publish_page(&user, &pool, number, Some(input), errors).await?)
        }
    }
}
