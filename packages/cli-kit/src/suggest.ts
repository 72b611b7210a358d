// "Did you mean": the closest known spelling of a mistyped subcommand or option, by edit
// distance, offered only when it is close enough to be what the user meant.

/** Edit distance with adjacent transpositions (optimal string alignment): `jsno` is one typo from `json`. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

/**
 * The known word closest to `word`, if within a third of its length (at least 1, at most 3 edits;
 * `maxEdits` overrides), case-insensitively with `ignoreCase`.
 */
export function closest(word: string, known: readonly string[], opts: { ignoreCase?: boolean; maxEdits?: number } = {}): string | undefined {
  const limit = opts.maxEdits ?? Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  const fold = (t: string): string => (opts.ignoreCase ? t.toLowerCase() : t);
  let best: { w: string; d: number } | undefined;
  for (const w of known) {
    const d = editDistance(fold(word), fold(w));
    if (d <= limit && (!best || d < best.d)) best = { w, d };
  }
  return best?.w;
}

/**
 * yargs' "Unknown argument(s): a, b" message rewritten with a suggestion per option:
 * `unknown option --tusted-key (did you mean --trusted-key?)`. yargs lists each option twice
 * (as typed and camel-cased); the camel-cased duplicates are dropped.
 */
export function unknownOptionsMessage(msg: string, knownOptions: readonly string[], args: readonly string[]): string | undefined {
  const m = /^Unknown arguments?: (.*)$/s.exec(msg);
  if (!m) return undefined;
  const names = m[1]!.split(', ').map((s) => s.trim()).filter(Boolean);
  const dashed = new Set(names.filter((n) => n.includes('-')).map((n) => n.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase())));
  const shown = names.filter((n) => !dashed.has(n));
  const known = knownOptions.filter((k) => k.length > 1 && !/[A-Z]/.test(k));
  const typed = (n: string): boolean => args.some((a) => a === `--${n}` || a.startsWith(`--${n}=`) || a === `--no-${n}` || (n.length === 1 && /^-[A-Za-z]+$/.test(a) && a.includes(n)));
  const options = shown.filter(typed);
  const extra = shown.filter((n) => !typed(n));
  const parts = options.map((n) => {
    const guess = closest(n, known);
    return `${n.length > 1 ? '--' : '-'}${n}${guess ? ` (did you mean --${guess}?)` : ''}`;
  });
  return [
    ...(parts.length ? [`unknown option${parts.length > 1 ? 's' : ''}: ${parts.join(', ')}`] : []),
    ...(extra.length ? [`unexpected argument${extra.length > 1 ? 's' : ''}: ${extra.join(', ')}`] : []),
  ].join('; ');
}

/** For names the user wrote in a file or flag value (spec fields, image names): case-insensitive, at most 2 edits. */
export function closestName(word: string, known: readonly string[]): string | undefined {
  return closest(word, known, { ignoreCase: true, maxEdits: 2 });
}
