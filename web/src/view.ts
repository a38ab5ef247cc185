import type { ChangeEvent } from './events.js';

/** One page of the app: drawn into <main>, told of live changes, dropped when the user leaves. */
export interface View {
  render(main: HTMLElement): Promise<void>;
  onEvent?(event: ChangeEvent): void;
}

/** Runs `refresh` once, a moment after the last of a burst of calls (a burst of events → one reload). */
export function debounce(refresh: () => Promise<void>, ms = 250): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(() => void refresh(), ms);
  };
}

/** Keeps keyboard focus on "the same" control across a redraw (matched by data-key). */
export async function keepingFocus(redraw: () => Promise<void> | void): Promise<void> {
  const key = (document.activeElement as HTMLElement | null)?.dataset?.key;
  await redraw();
  if (key) document.querySelector<HTMLElement>(`[data-key="${CSS.escape(key)}"]`)?.focus();
}
