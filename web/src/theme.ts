// Light/dark: follows the system unless the user picks one (kept in localStorage).
import { useEffect, useState } from "preact/hooks";

export type ThemeChoice = "system" | "light" | "dark";
const KEY = "drive.theme";
const media = window.matchMedia("(prefers-color-scheme: dark)");
const listeners = new Set<() => void>();

export function themeChoice(): ThemeChoice {
  const stored = localStorage.getItem(KEY);
  return stored === "light" || stored === "dark" ? stored : "system";
}

export function effectiveTheme(choice: ThemeChoice = themeChoice()): "light" | "dark" {
  if (choice === "system") return media.matches ? "dark" : "light";
  return choice;
}

export function applyTheme() {
  const choice = themeChoice();
  const root = document.documentElement;
  if (choice === "system") delete root.dataset.theme;
  else root.dataset.theme = choice;
  listeners.forEach((listener) => listener());
}

export function setTheme(choice: ThemeChoice) {
  if (choice === "system") localStorage.removeItem(KEY);
  else localStorage.setItem(KEY, choice);
  applyTheme();
}

media.addEventListener("change", () => listeners.forEach((listener) => listener()));

export function useTheme(): [ThemeChoice, "light" | "dark"] {
  const [, tick] = useState(0);
  useEffect(() => {
    const listener = () => tick((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  const choice = themeChoice();
  return [choice, effectiveTheme(choice)];
}
