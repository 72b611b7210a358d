// "Did you mean": the option nearest to what was typed (case-insensitive edit distance under 3),
// for unknown spec fields and for an --sbom-file IMAGE that names no image.

export function closest(word: string, options: readonly string[]): string | undefined {
  const dist = (a: string, b: string): number => {
    const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
    for (let j = 1; j <= b.length; j++) d[0]![j] = j;
    for (let i = 1; i <= a.length; i++) {
      for (let j = 1; j <= b.length; j++) {
        d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
      }
    }
    return d[a.length]![b.length]!;
  };
  let best: string | undefined;
  let bestD = 3;
  for (const o of options) {
    const dd = dist(word, o);
    if (dd < bestD) {
      bestD = dd;
      best = o;
    }
  }
  return best;
}
