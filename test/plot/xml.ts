// A small strict XML well-formedness checker for the SVG tests (no dependencies):
// one root element, properly nested and matched tags, quoted attributes without
// duplicates or raw '<', only the predefined or numeric entity references, no
// stray '<' or '&' in text, and nothing but whitespace/comments around the root.

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const NAME = '[A-Za-z_:][A-Za-z0-9_.:-]*';
const ENTITY = /&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/g;

function checkText(s: string, where: string): string {
  const rest = s.replace(ENTITY, '');
  if (rest.includes('&'))
    throw new Error(`bad entity reference in ${where}: ${JSON.stringify(s.slice(0, 60))}`);
  if (rest.includes('<')) throw new Error(`raw '<' in ${where}`);
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&#x([0-9a-fA-F]+);/g, (_, h) => String.fromCodePoint(Number.parseInt(h, 16)))
    .replace(/&#([0-9]+);/g, (_, d) => String.fromCodePoint(Number(d)))
    .replace(/&amp;/g, '&');
}

/** Parses `xml` or throws an Error saying what is wrong. */
export function parseXml(xml: string): XmlElement {
  let i = 0;
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>');
    if (end < 0) throw new Error('unterminated XML declaration');
    i = end + 2;
  }
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const tagRe = new RegExp(`^<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`);
  const attrRe = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"<]*)"|'([^'<]*)')`, 'g');
  const closeRe = new RegExp(`^</(${NAME})\\s*>`);
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = lt < 0 ? xml.slice(i) : xml.slice(i, lt);
    if (text.length) {
      if (stack.length === 0) {
        if (text.trim() !== '')
          throw new Error(`text outside the root element: ${JSON.stringify(text.slice(0, 40))}`);
      } else stack[stack.length - 1].text += checkText(text, `<${stack[stack.length - 1].name}>`);
    }
    if (lt < 0) break;
    i = lt;
    const rest = xml.slice(i);
    if (rest.startsWith('<!--')) {
      const end = xml.indexOf('-->', i + 4);
      if (end < 0) throw new Error('unterminated comment');
      i = end + 3;
      continue;
    }
    const close = closeRe.exec(rest);
    if (close) {
      const top = stack.pop();
      if (!top || top.name !== close[1])
        throw new Error(`</${close[1]}> does not match <${top?.name ?? 'nothing'}>`);
      i += close[0].length;
      continue;
    }
    const open = tagRe.exec(rest);
    if (!open) throw new Error(`malformed tag at ${i}: ${JSON.stringify(rest.slice(0, 60))}`);
    const el: XmlElement = { name: open[1], attrs: {}, children: [], text: '' };
    for (const m of open[2].matchAll(attrRe)) {
      if (Object.hasOwn(el.attrs, m[1])) throw new Error(`duplicate attribute ${m[1]} on <${el.name}>`);
      el.attrs[m[1]] = checkText(m[2] ?? m[3], `attribute ${m[1]}`);
    }
    if (stack.length) stack[stack.length - 1].children.push(el);
    else if (root) throw new Error('more than one root element');
    else root = el;
    if (open[3] !== '/') stack.push(el);
    i += open[0].length;
  }
  if (stack.length) throw new Error(`unclosed <${stack[stack.length - 1].name}>`);
  if (!root) throw new Error('no root element');
  return root;
}

/** Every element in document order. */
export function allElements(e: XmlElement): XmlElement[] {
  return [e, ...e.children.flatMap(allElements)];
}

/** Elements whose class list contains every one of `classes`. */
export function byClass(root: XmlElement, ...classes: string[]): XmlElement[] {
  return allElements(root).filter((e) => {
    const list = (e.attrs.class ?? '').split(/\s+/);
    return classes.every((c) => list.includes(c));
  });
}
