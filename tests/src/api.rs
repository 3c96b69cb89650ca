//! The server's HTTP API from a test, as a user signed in with the
//! harness's password: to see what the server holds, and to make changes no
//! client would (names a client cannot create, renames behind its back).

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};

use crate::Server;

pub struct Api {
    base: String,
    token: String,
    http: reqwest::blocking::Client,
    pub root_id: i64,
}

impl Api {
    pub fn login(server: &Server, email: &str) -> Result<Self> {
        let http = reqwest::blocking::Client::new();
        let base = format!("{}/api/v1", server.url());
        let body = json!({"email": email, "password": crate::PASSWORD, "device_name": "test"});
        let answer: Value = http
            .post(format!("{base}/auth/login"))
            .json(&body)
            .send()?
            .error_for_status()?
            .json()?;
        let token = answer["access_token"].as_str().context("an access token")?.to_owned();
        let root_id = answer["user"]["root_id"].as_i64().context("a root id")?;
        Ok(Self {
            base,
            token,
            http,
            root_id,
        })
    }

    fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send()?;
        let status = response.status();
        let text = response.text()?;
        if !status.is_success() {
            bail!("{path}: {status}: {text}");
        }
        Ok(if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)?
        })
    }

    /// `GET /api/v1{path}`: the answer's JSON.
    pub fn get(&self, path: &str) -> Result<Value> {
        self.call(reqwest::Method::GET, path, None)
    }

    /// The paths (`a/b.txt`) of the live nodes of `email`'s drive.
    pub fn paths_of(server: &Server, email: &str) -> Result<Vec<String>> {
        Ok(Self::login(server, email)?.tree()?.into_keys().collect())
    }

    /// Live nodes by path (`a/b.txt`), as the server has them now.
    pub fn tree(&self) -> Result<BTreeMap<String, Value>> {
        let mut nodes: HashMap<i64, Value> = HashMap::new();
        let mut since = 0;
        loop {
            let page = self.call(reqwest::Method::GET, &format!("/changes?since={since}&wait=0"), None)?;
            for change in page["changes"].as_array().context("changes")? {
                let id = change["node_id"].as_i64().context("a node id")?;
                match change.get("node").filter(|n| !n.is_null()) {
                    Some(node) => nodes.insert(id, node.clone()),
                    None => nodes.remove(&id),
                };
            }
            since = page["cursor"].as_i64().context("a cursor")?;
            if !page["has_more"].as_bool().unwrap_or(false) {
                break;
            }
        }
        let mut children: HashMap<i64, Vec<&Value>> = HashMap::new();
        for node in nodes.values().filter(|node| node["trashed_at"].is_null()) {
            if let Some(parent) = node["parent_id"].as_i64() {
                children.entry(parent).or_default().push(node);
            }
        }
        let mut tree = BTreeMap::new();
        let mut stack = vec![(self.root_id, String::new())];
        while let Some((parent, prefix)) = stack.pop() {
            for &node in children.get(&parent).into_iter().flatten() {
                let name = node["name"].as_str().unwrap_or_default();
                let path = if prefix.is_empty() {
                    name.to_owned()
                } else {
                    format!("{prefix}/{name}")
                };
                stack.push((node["id"].as_i64().unwrap_or_default(), path.clone()));
                tree.insert(path, node.clone());
            }
        }
        Ok(tree)
    }

    /// The id of the live node at `path`.
    pub fn id(&self, path: &str) -> Result<i64> {
        let node = self.call(reqwest::Method::GET, &format!("/lookup?path=/{path}"), None)?;
        node["id"].as_i64().context("a node id")
    }

    pub fn create_folder(&self, parent_id: i64, name: &str) -> Result<i64> {
        let node = self.call(
            reqwest::Method::POST,
            "/folders",
            Some(json!({"parent_id": parent_id, "name": name})),
        )?;
        node["id"].as_i64().context("a node id")
    }

    pub fn rename(&self, id: i64, name: &str) -> Result<()> {
        self.call(
            reqwest::Method::PATCH,
            &format!("/nodes/{id}"),
            Some(json!({"name": name})),
        )?;
        Ok(())
    }

    /// Moves a node into another folder, under the same name.
    pub fn move_to(&self, id: i64, parent_id: i64) -> Result<()> {
        let body = json!({"parent_id": parent_id});
        self.call(reqwest::Method::PATCH, &format!("/nodes/{id}"), Some(body))?;
        Ok(())
    }
}
