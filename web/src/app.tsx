// The app shell: sign-in gate, header (quota, theme, sign out), navigation, routes.
import { useEffect, useState } from "preact/hooks";
import { Files, HardDrive, Link2, LogOut, Menu, Moon, Sun, Trash2, User as UserIcon, Users } from "lucide-preact";
import { formatBytes, percent } from "@common/format";
import { ProgressBar } from "@common/components";
import { session, startChanges, stopChanges, type SignInState, type User } from "./api";
import { AuthScreen } from "./auth";
import { linkHandler, navigate, useRoute, type Route } from "./router";
import { setTheme, useTheme } from "./theme";
import { FilesView } from "./files/browser";
import { TrashView } from "./files/trash";
import { Toasts } from "./ui/toast";
import { UploadsPanel } from "./upload";
import { LinksPage, SharedWithMe } from "./sharing";
import { AccountPage } from "./account";

function useSession(): { state: SignInState; user: User | null } {
  const [state, setState] = useState(session.get());
  useEffect(() => session.subscribe(setState), []);
  return state;
}

export function App() {
  const { state, user } = useSession();
  useEffect(() => {
    void session.restore();
  }, []);
  useEffect(() => {
    if (state !== "signed-in") return;
    startChanges();
    return stopChanges;
  }, [state]);

  if (state === "unknown")
    return (
      <div class="center" aria-busy="true">
        <p class="muted">Loading…</p>
      </div>
    );
  if (state === "signed-out" || !user)
    return (
      <>
        <AuthScreen />
        <Toasts />
      </>
    );
  return <Shell user={user} />;
}

const NAV: { name: Route["name"]; path: string; label: string; icon: typeof Files }[] = [
  { name: "files", path: "/files", label: "Files", icon: Files },
  { name: "shared", path: "/shared", label: "Shared with me", icon: Users },
  { name: "links", path: "/links", label: "Links", icon: Link2 },
  { name: "trash", path: "/trash", label: "Trash", icon: Trash2 },
  { name: "account", path: "/account", label: "Account", icon: UserIcon },
];

function Shell({ user }: { user: User }) {
  const route = useRoute();
  const [menuOpen, setMenuOpen] = useState(false);
  const [, theme] = useTheme();
  useEffect(() => setMenuOpen(false), [route.name, route.name === "files" ? route.folder : null]);
  useEffect(() => {
    if (route.name === "unknown") navigate("/files", true);
  }, [route.name]);
  const used = percent(user.used_bytes, user.quota_bytes);

  return (
    <div class={menuOpen ? "shell menu-open" : "shell"}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <button
          type="button"
          class="icon menu-toggle"
          aria-label="Menu"
          aria-expanded={menuOpen}
          aria-controls="sidebar"
          onClick={() => setMenuOpen(!menuOpen)}
        >
          <Menu size={20} aria-hidden="true" />
        </button>
        <a class="logo" href="/files" onClick={linkHandler("/files")}>
          <HardDrive size={20} aria-hidden="true" /> Drive
        </a>
        <div class="topbar-end">
          <div class="quota" title={`${used}% used`}>
            <span class="quota-text">
              {formatBytes(user.used_bytes)} of {formatBytes(user.quota_bytes)} used
            </span>
            <ProgressBar value={used} label="Storage used" />
          </div>
          <button
            type="button"
            class="icon"
            aria-label={theme === "dark" ? "Use light theme" : "Use dark theme"}
            title={theme === "dark" ? "Light theme" : "Dark theme"}
            onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
          >
            {theme === "dark" ? <Sun size={18} aria-hidden="true" /> : <Moon size={18} aria-hidden="true" />}
          </button>
          <span class="who" title={user.email}>
            {user.email}
          </span>
          <button type="button" class="icon" aria-label="Sign out" title="Sign out" onClick={() => void session.signOut()}>
            <LogOut size={18} aria-hidden="true" />
          </button>
        </div>
      </header>
      <nav id="sidebar" class="sidebar" aria-label="Sections">
        {NAV.map((item) => {
          const Icon = item.icon;
          const active = route.name === item.name;
          return (
            <a
              key={item.name}
              href={item.path}
              class={active ? "nav active" : "nav"}
              aria-current={active ? "page" : undefined}
              onClick={linkHandler(item.path)}
            >
              <Icon size={18} aria-hidden="true" />
              {item.label}
            </a>
          );
        })}
      </nav>
      <main id="main" class="main" tabIndex={-1}>
        <Page route={route} user={user} />
      </main>
      <div class="uploads-region">
        <UploadsPanel />
      </div>
      <Toasts />
    </div>
  );
}

function Page({ route, user }: { route: Route; user: User }) {
  switch (route.name) {
    case "files":
      return <FilesView key="files" folderId={route.folder ?? user.root_id} rootId={user.root_id} />;
    case "trash":
      return <TrashView />;
    case "shared":
      return (
        <section class="page">
          <h1 class="page-title">Shared with me</h1>
          <SharedWithMe />
        </section>
      );
    case "links":
      return (
        <section class="page">
          <h1 class="page-title">Links</h1>
          <LinksPage />
        </section>
      );
    case "account":
      return (
        <section class="page">
          <h1 class="page-title">Account</h1>
          <AccountPage />
        </section>
      );
    default:
      return null;
  }
}
