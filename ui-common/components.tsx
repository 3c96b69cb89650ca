// Small components both UIs use.
import type { ComponentChildren } from "preact";
import { KIND_ICONS, fileKind } from "./fileType";

/** A determinate progress bar with an accessible value. */
export function ProgressBar({ value, label }: { value: number; label: string }) {
  const clamped = Math.min(100, Math.max(0, Math.round(value)));
  return (
    <span
      class="progress"
      role="progressbar"
      aria-label={label}
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={clamped}
    >
      <span style={{ width: `${clamped}%` }} />
    </span>
  );
}

/** The icon of a file or folder by its name. */
export function FileIcon({ name, folder, size = 18 }: { name: string; folder?: boolean; size?: number }) {
  const Icon = KIND_ICONS[fileKind(name, folder)];
  return <Icon size={size} aria-hidden="true" />;
}

/** A labelled setting row: label and hint on the left, the control on the right. */
export function Field({ label, hint, children }: { label: string; hint?: string; children: ComponentChildren }) {
  return (
    <div class="field">
      <div>
        <div class="field-label">{label}</div>
        {hint && <div class="muted small">{hint}</div>}
      </div>
      <div class="field-control">{children}</div>
    </div>
  );
}
