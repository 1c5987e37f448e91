import { afterAll, describe, expect, it } from 'vitest';
import { messageOf, ruleOf, tempDir, validatePath } from './validate-helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const svg = async (text: string) => validatePath(tmp.write(`t${n++}.svg`, text));
const NS = 'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"';

describe('SVG recognition and well-formedness', () => {
  it('accepts a plain SVG with prolog, doctype, comments, CDATA and entities', async () => {
    const r = await svg(`\uFEFF<?xml version="1.0" encoding="UTF-8"?>
<!-- made by hand -->
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">
<svg ${NS} width="40px" height="20" viewBox="0 0 40 20">
  <style><![CDATA[ rect { fill: url(#g); } ]]></style>
  <linearGradient id="g"><stop offset="0" stop-color="red"/></linearGradient>
  <rect width="40" height="20" fill="url(#g)"/>
  <use xlink:href="#g"/>
  <image href="data:image/png;base64,iVBORw0KGgo=" width="1" height="1"/>
  <a href="https://example.com/">A &amp; B &#233; &#x41; &lt;ok&gt;</a>
</svg>`);
    expect(messageOf(r)).toBe('');
    expect(r.ok && r.item).toMatchObject({ format: 'svg', width: 40, height: 20 });
  });

  it('accepts a prefixed svg root and single quotes', async () => {
    expect(ruleOf(await svg(`<s:svg xmlns:s='http://www.w3.org/2000/svg'><s:g/></s:svg>`))).toBe('ok');
  });

  it.each([
    ['unquoted attribute', '<svg width=100 height=100 xmlns=http://www.w3.org/2000/svg />', "attribute 'width' in <svg> is not quoted"],
    ['unbalanced tags', `<svg ${NS}><g><rect/></svg>`, '</svg> closes <g>'],
    ['unclosed root', `<svg ${NS}><g></g>`, '<svg> is never closed'],
    ['duplicate attribute', `<svg ${NS} width="1" width="2"/>`, "duplicate attribute 'width' in <svg>"],
    ['< in attribute', `<svg ${NS} onclick='a("<x")'/>`, "'<' inside attribute 'onclick' of <svg>"],
    ['bare ampersand', `<svg ${NS}><text>A & B</text></svg>`, "bare '&' at character"],
    ['undefined entity', `<svg ${NS}><text>&nbsp;</text></svg>`, "undefined entity '&nbsp;'"],
    ['two roots', `<svg ${NS}/><svg ${NS}/>`, 'content after the root element'],
    ['text after root', `<svg ${NS}/>junk`, 'text after the root element'],
  ])('rejects %s as corrupt', async (_what, text, detail) => {
    const r = await svg(text);
    expect(ruleOf(r)).toBe('corrupt');
    expect(messageOf(r)).toContain(detail);
  });

  it('rejects HTML named .svg as disguised', async () => {
    expect(ruleOf(await svg('<!DOCTYPE html><html><body><svg></svg></body></html>'))).toBe('disguised');
  });
});

describe('unsafe SVG', () => {
  it.each([
    ['a script element', `<svg ${NS}><script>alert(1)</script></svg>`, 'contains a <script> element'],
    ['an event handler', `<svg ${NS} onload="alert(1)"/>`, "event handler attribute 'onload'"],
    ['a javascript: link', `<svg ${NS}><a href="java&#x09;script:alert(1)">x</a></svg>`, 'script URL'],
    ['an http image', `<svg ${NS}><image xlink:href="http://evil.example/x.png"/></svg>`, "external resource 'http://evil.example/x.png'"],
    ['a local file image', `<svg ${NS}><image href="file:///etc/passwd"/></svg>`, 'external resource'],
    ['an ImageMagick coder', `<svg ${NS}><image xlink:href="text:/etc/passwd"/></svg>`, 'external resource'],
    ['an absolute path', `<svg ${NS}><use href="/etc/passwd#x"/></svg>`, 'external resource'],
    ['a relative image', `<svg ${NS}><image href="../secret.png"/></svg>`, "external resource '../secret.png'"],
    ['a feImage', `<svg ${NS}><filter><feImage href="x.svg"/></filter></svg>`, 'external resource'],
    ['css url()', `<svg ${NS}><rect style="fill: url(https://evil.example/p.svg#p)"/></svg>`, 'external resource'],
    ['presentation url()', `<svg ${NS}><rect fill="url('//evil.example/p#p')"/></svg>`, 'external resource'],
    ['css @import', `<svg ${NS}><style>@import "https://evil.example/a.css";</style></svg>`, 'imports an external stylesheet'],
    ['an xml-stylesheet PI', `<?xml-stylesheet href="https://evil.example/a.css"?><svg ${NS}/>`, 'external stylesheet'],
    ['an external entity (XXE)', `<!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg ${NS}><text>&x;</text></svg>`, "external entity 'x'"],
    ['a billion-laughs entity', `<!DOCTYPE svg [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;">]><svg ${NS}><text>&b;</text></svg>`, "expanding entity 'b'"],
    ['a parameter entity', `<!DOCTYPE svg [<!ENTITY % p SYSTEM "http://evil.example/x.dtd"> %p;]><svg ${NS}/>`, 'parameter entity'],
    ['an external DTD', `<!DOCTYPE svg SYSTEM "http://evil.example/x.dtd"><svg ${NS}/>`, 'external DTD'],
  ])('rejects %s', async (_what, text, detail) => {
    const r = await svg(text);
    expect(ruleOf(r)).toBe('unsafe-svg');
    expect(messageOf(r)).toContain(detail);
  });

  it('allows hyperlinks, fragments, data: URIs and relative font references', async () => {
    const r = await svg(`<svg ${NS}>
  <a xlink:href="https://example.com/page"><text>link</text></a>
  <a href="mailto:someone@example.com"><text>mail</text></a>
  <font-face><font-face-src><font-face-uri xlink:href="../fonts/Sans.svg#ascii"/></font-face-src></font-face>
  <use href="#shape"/><path id="shape" d="M0 0h1"/>
</svg>`);
    expect(messageOf(r)).toBe('');
  });

  it('allows plain text entities as Adobe Illustrator writes them', async () => {
    const r = await svg(`<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" "http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd" [
	<!ENTITY ns_extend "http://ns.adobe.com/Extensibility/1.0/">
	<!ENTITY ns_svg "http://www.w3.org/2000/svg">
]>
<svg xmlns="&ns_svg;" xmlns:x="&ns_extend;" width="10" height="10"><rect width="10" height="10"/></svg>`);
    expect(messageOf(r)).toBe('');
  });

  it('expands declared entities before judging a reference', async () => {
    const r = await svg(`<!DOCTYPE svg [<!ENTITY u "https://evil.example/x.png">]><svg ${NS}><image href="&u;"/></svg>`);
    expect(ruleOf(r)).toBe('unsafe-svg');
  });
});
