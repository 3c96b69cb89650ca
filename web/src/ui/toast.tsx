// Short messages at the bottom of the window, announced to screen readers.
import { useEffect, useState } from "preact/hooks";

export interface Toast {
  id: number;
  text: string;
  error?: boolean;
}

let next = 1;
let toasts: Toast[] = [];
const listeners = new Set<() => void>();

export function toast(text: string, error = false) {
  const item = { id: next++, text, error };
  toasts = [...toasts.slice(-3), item];
  listeners.forEach((listener) => listener());
  setTimeout(() => dismiss(item.id), error ? 8000 : 4000);
}

export function dismiss(id: number) {
  toasts = toasts.filter((item) => item.id !== id);
  listeners.forEach((listener) => listener());
}

export function Toasts() {
  const [, tick] = useState(0);
  useEffect(() => {
    const listener = () => tick((n) => n + 1);
    listeners.add(listener);
    return () => listeners.delete(listener);
  }, []);
  return (
    <div class="toasts" role="status" aria-live="polite">
      {toasts.map((item) => (
        <div key={item.id} class={item.error ? "toast error-toast" : "toast"}>
          <span>{item.text}</span>
          <button type="button" class="link" onClick={() => dismiss(item.id)}>
            Dismiss
          </button>
        </div>
      ))}
    </div>
  );
}
