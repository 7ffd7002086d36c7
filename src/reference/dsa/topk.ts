// The indexer's selection: `index_score(+mask).topk(min(index_topk, end_pos))` (model.py
// Indexer.forward), one query row at a time.
//
// Tie-breaking (torch.topk defines none; ReLU makes exact ties, e.g. all-zero scores, common on
// real inputs): equal scores are ordered by key index, the LOWER index first. So the selection is
// a pure function of the scores: the k keys that are largest under the total order
// (score descending, index ascending). The official vectors have no tie near the k-th score
// (gap >= 2.1e-3 of the row's max |score|), so the rule never decides a set there.

/**
 * Row `off..off+visible)` of a scores array, keys 0..visible-1 visible (the causal mask: keys at
 * or beyond `visible` score -inf and are never chosen). Returns [k] key indices in descending
 * order of score (ties: lower index first); slots beyond the visible keys are -1 (where a prefill
 * row sees fewer keys than k, torch returns masked indices, whose -inf the causal mask applies
 * again: they select nothing).
 */
export function topkRow(scores: ArrayLike<number>, off: number, visible: number, k: number): Int32Array {
  const order = Array.from({ length: visible }, (_, j) => j);
  order.sort((a, b) => scores[off + b] - scores[off + a] || a - b);
  const out = new Int32Array(k).fill(-1);
  for (let i = 0; i < Math.min(k, visible); i++) out[i] = order[i];
  return out;
}

/** The selected keys of a top-k row: its entries >= 0, in its order. */
export function selectedKeys(row: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let i = 0; i < row.length; i++) if (row[i] >= 0) out.push(row[i]);
  return out;
}
