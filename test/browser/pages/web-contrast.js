// WCAG 2 contrast of every visible text node of the page against its background
// (plain JS, added to the course page with page.addScriptTag by web-page.test.ts).
// SVG text is left out: the charts draw their own backgrounds.

function channels(css) {
  return (css.match(/[\d.]+/g) ?? []).map(Number);
}

function luminance([r, g, b]) {
  const f = (v) => {
    const s = v / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
}

/** The first opaque background colour from `el` up (white at the top). */
function background(el) {
  for (let x = el; x; x = x.parentElement) {
    const c = channels(getComputedStyle(x).backgroundColor);
    if (c.length < 4 || c[3] > 0) return c.slice(0, 3);
  }
  return [255, 255, 255];
}

globalThis.contrastReport = () => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(), i = 0; n && i < 100000; n = walker.nextNode(), i++) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim() || el.closest('svg') || el.tagName === 'OPTION') continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || st.display === 'none' || el.getClientRects().length === 0) continue;
    const a = luminance(channels(st.color));
    const b = luminance(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const px = Number.parseFloat(st.fontSize);
    // WCAG "large scale": 18 pt, or 14 pt bold.
    const large = px >= 24 || (px >= 18.66 && Number(st.fontWeight) >= 700);
    out.push({ text: n.textContent.trim().slice(0, 40), color: st.color, ratio, large });
  }
  return out;
};
