//! Whose folder this is: the folder and its ledger belong to one account on
//! one server, and a folder synced as someone else (or with another server)
//! is refused, never reconciled against this account's tree.

use super::*;

/// What the ledger says the folder was linked to.
struct Recorded {
    link: Option<Link>,
    root_id: Option<String>,
}

impl Engine {
    pub(super) async fn check_account(&self) -> Result<()> {
        let user = self.remote.me().await?;
        let current = Link {
            server: self.remote.address(),
            user_id: user.id,
            email: user.email.clone(),
        };
        let recorded = self.recorded().await?;
        let root_id = user.root_id.to_string();
        if let Some(linked) = &recorded.link {
            if !linked.same_account(&current) {
                return Err(self.linked_elsewhere(linked.to_string(), &current));
            }
        } else if recorded.root_id.as_ref().is_some_and(|known| *known != root_id) {
            // A ledger from before links: its root tells whose it is.
            return Err(self.linked_elsewhere("another account".into(), &current));
        }
        self.state.check_link(&current, recorded.link.is_some())?;
        if recorded.link.is_some() && recorded.root_id.as_ref().is_some_and(|known| *known != root_id) {
            // The same account with another root: what the ledger agreed on
            // refers to a tree that is gone. Compare anew; delete nothing.
            tracing::warn!("the account's root folder changed on the server; relisting and comparing");
            self.with_ledger(|l| l.relist()).await?;
        }
        let link = current.clone();
        self.with_ledger(move |l| {
            l.set_meta("server", &link.server)?;
            l.set_meta("user_id", &link.user_id.to_string())?;
            l.set_meta("email", &link.email)?;
            l.set_meta("root_id", &root_id)
        })
        .await
    }

    /// Another database answers at the folder's address (the server's
    /// identity changed): the same user id there may be someone else, so
    /// the account must still have the email the folder was linked with.
    pub(super) async fn check_same_person(&self) -> Result<()> {
        let user = self.remote.me().await?;
        let Some(linked) = self.recorded().await?.link else {
            return Ok(());
        };
        if linked.email != user.email {
            let current = Link {
                server: self.remote.address(),
                user_id: user.id,
                email: user.email,
            };
            return Err(self.linked_elsewhere(linked.to_string(), &current));
        }
        Ok(())
    }

    async fn recorded(&self) -> Result<Recorded> {
        self.with_ledger(|l| {
            let server = l.meta("server")?;
            let user_id = l.meta("user_id")?.and_then(|v| v.parse().ok());
            let email = l.meta("email")?;
            let link = match (server, user_id, email) {
                (Some(server), Some(user_id), Some(email)) => Some(Link { server, user_id, email }),
                _ => None,
            };
            Ok(Recorded {
                link,
                root_id: l.meta("root_id")?,
            })
        })
        .await
    }

    fn linked_elsewhere(&self, linked: String, current: &Link) -> EngineError {
        FolderError::LinkedElsewhere {
            folder: self.root.display().to_string(),
            linked,
            current: current.to_string(),
        }
        .into()
    }
}
