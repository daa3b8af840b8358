import type { Finder, ParanoiaLevel } from "./finding.js";

/**
 * Cross-site scripting, found by reading the text as a browser's HTML tokenizer does (WHATWG
 * HTML, "tokenization"): a tag opens at `<` and a letter, its attributes are split where the
 * browser splits them (whitespace or `/` between them; values in double quotes, single quotes or
 * unquoted), and the tag ends at the first `>` outside a quoted value. So `<img title=">"
 * onerror=…>` has its handler, `<a title="x onerror=y">` has none, and a value cannot be read
 * out of phase with the browser. Entities were decoded and case folded before (normalize.ts).
 * Then the contexts a payload may be placed into without a tag of its own: an attribute value
 * it breaks out of (`" onmouseover=…`), a URL (`javascript:`), a script string (`';alert(1)//`).
 *
 * Hand-written: the HTML parsers on npm (parse5, htmlparser2) build documents and recover from
 * errors their own way, where detection needs the tokenizer's reading of each tag and the
 * position of every attribute, in one linear pass.
 */

/** Elements that run script or load a document whatever their attributes. */
const DANGEROUS_ELEMENTS = new Set(["script", "iframe", "frameset", "portal", "xss"]);
/** Elements that do so through an attribute of theirs: `<object data=…>`, `<base href=…>`, `<svg><animate values=…>`. */
const DANGEROUS_WITH_ATTRIBUTES = new Set(["layer", "ilayer", "bgsound", "frame", "object", "embed", "applet", "base", "meta", "link", "svg", "math", "form", "isindex", "template", "style", "xml", "import", "vmlframe", "noembed", "animate", "set", "handler", "listener", "image", "use"]);
/** Attributes whose value is a URL a browser may follow or run. */
const URL_ATTRIBUTES = new Set(["href", "src", "action", "formaction", "data", "xlink:href", "background", "poster", "lowsrc", "dynsrc", "codebase", "from", "to", "values", "by", "content", "srcset", "ping", "cite", "longdesc", "usemap", "manifest", "icon", "code", "archive", "attributename"]);
const SCRIPT_URL = /^(javascript|vbscript|livescript|mocha):|^data:(text\/html|image\/svg\+xml|application\/x?html|text\/xml)/;
const DANGEROUS_CSS = /expression\(|behavior ?:|-moz-binding|url\( ?['"]? ?(javascript|vbscript|data):|@import/;

function isSpace(ch: string): boolean {
  return ch === " " || ch === "\n" || ch === "\t" || ch === "\f" || ch === "\r";
}

/** A URL as a browser reads it: it drops tabs, line breaks and leading control characters and spaces. */
function urlOf(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what a browser strips
  return value.replace(/[\t\n\r]/g, "").replace(/^[\x00-\x20]+/, "");
}

/** CSS as a browser reads it: comments (`expr/**\/ession`) and control characters are nothing. */
function cssOf(value: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what the CSS reader skips
  return value.replace(/\/\*.*?\*\//g, "").replace(/[\x00-\x08\x0b-\x1f\\]/g, "");
}

/**
 * Reads every tag of `text`: as the browser does with `quotesMatter`, and also with quotes read as
 * any other character, so that a handler inside a quoted value is found too, for the parsers and
 * contexts (a value later unquoted, IE's backtick quoting) that split the tag elsewhere. Returns at the first finding. Each character is read once: attribute
 * names and values advance the position, and a tag's end is the browser's.
 */
function tags(text: string, find: Finder, quotesMatter: boolean): boolean {
  const n = text.length;
  let i = text.indexOf("<");
  while (i !== -1 && i < n) {
    let j = i + 1;
    if (text.startsWith("!--", j)) {
      // A comment ends at `-->`; `<!-->` and `<!--->` end at once, as in a browser.
      const end = text.indexOf("-->", j + 1);
      if (text[j + 3] === ">" || text.startsWith("->", j + 3)) j += 4;
      else j = end === -1 ? n : end + 3;
      i = text.indexOf("<", j);
      continue;
    }
    const closing = text[j] === "/";
    if (closing) j++;
    const start = j;
    if (!(text[j]! >= "a" && text[j]! <= "z")) {
      i = text.indexOf("<", j);
      continue;
    }
    while (j < n && !isSpace(text[j]!) && text[j] !== "/" && text[j] !== ">") j++;
    const name = text.slice(start, j);
    const element = name.replace(/^[a-z]+:/, "");
    if (name === "script" || (!closing && DANGEROUS_ELEMENTS.has(element))) {
      if (find(name === "script" ? "xss-script-tag" : "xss-dangerous-tag", closing ? 2 : 1)) return true;
    }
    // Attributes, until the tag's end.
    while (j < n && text[j] !== ">") {
      const ch = text[j]!;
      if (isSpace(ch) || ch === "/") {
        j++;
        continue;
      }
      if (ch === "<" && (closing || !quotesMatter)) break;
      const nameStart = j;
      j++;
      while (j < n && !isSpace(text[j]!) && text[j] !== "/" && text[j] !== ">" && text[j] !== "=") j++;
      const attribute = text.slice(nameStart, j);
      while (j < n && isSpace(text[j]!)) j++;
      let value: string | undefined;
      if (text[j] === "=") {
        j++;
        while (j < n && isSpace(text[j]!)) j++;
        const quote = text[j];
        if (quotesMatter && (quote === '"' || quote === "'")) {
          const end = text.indexOf(quote, j + 1);
          value = text.slice(j + 1, end === -1 ? n : end);
          j = end === -1 ? n : end + 1;
        } else {
          const valueStart = j;
          while (j < n && !isSpace(text[j]!) && text[j] !== ">" && (quotesMatter || text[j] !== "<")) j++;
          value = text.slice(valueStart, j);
        }
      }
      if (closing) continue;
      if (/^on[a-z]{3,}/.test(attribute)) {
        if (find("xss-event-handler", 1)) return true;
      }
      if (value === undefined) continue;
      if (DANGEROUS_WITH_ATTRIBUTES.has(element) && find("xss-dangerous-tag", 1)) return true;
      if (URL_ATTRIBUTES.has(attribute) && SCRIPT_URL.test(urlOf(value))) {
        if (find("xss-script-url", 1)) return true;
      }
      if (attribute === "style" && DANGEROUS_CSS.test(cssOf(value))) {
        if (find("xss-css", 1)) return true;
      }
      if (attribute === "srcdoc") {
        if (find("xss-srcdoc", 1)) return true;
      }
    }
    i = text.indexOf("<", j);
  }
  return false;
}

/** The handlers browsers run, by name: after a quote of any kind, or none, they start script. */
const EVENT_HANDLER =
  /\bon(error|load|focus|blur|click|dblclick|mouse[a-z]{2,10}|key(up|down|press)|change|submit|toggle|animation(start|end|iteration)|transition(start|end|run|cancel)|pointer[a-z]{2,10}|begin|end|finish|scroll|wheel|drag[a-z]{0,5}|drop|copy|cut|paste|input|invalid|resize|select|show|hashchange|message|pageshow|popstate|readystatechange|beforeunload|unload|auxclick|contextmenu|play|playing|pause|seeked|ended|canplay|loadstart|loadeddata|progress|afterprint|beforeprint|search|touch(start|end|move)|focusin|focusout|formdata|reset|securitypolicyviolation|bounce|repeat) ?= ?[^\s=]/;

const CONTEXT_RULES: readonly [string, 1 | 2 | 3, RegExp, RegExp][] = [
  // Out of an attribute's quotes into a handler of one's own: `" onmouseover=…`, `"autofocus/onfocus=…`, `” onfocus=…`.
  ["xss-attribute-breakout", 1, /on/, /["'`][ /]*([a-z-]{1,20}[ /]+){0,2}on[a-z]{3,30} ?=/],
  ["xss-event-handler", 1, /on/, EVENT_HANDLER],
  // A tag wherever it is, in a comment or a quoted value too: `<!--[if IE]><script>`.
  ["xss-script-tag", 1, /</, /<(script|iframe|frameset)\b/],
  ["xss-css", 1, /style/, /<style\b[^>]{0,200}>[^<]{0,1000}(@import|expression ?\(|behavior ?:|-moz-binding|javascript:)/],
  // What a script context runs on its own: `alert(1)`, ``alert`1` ``, `[1].find(alert)`.
  ["xss-js-call", 1, /alert|prompt|confirm/, /\b(alert|prompt|confirm) ?(\(|`)|\((alert|prompt|confirm)\)/],
  // A global's member called by a computed name: `top['al\x65rt'](1)`, `window[/al/.source+/ert/.source](1)`.
  ["xss-js-call", 1, /\[/, /\b(top|window|self|parent|frames|globalthis|this)\[[^\][]{1,100}\] ?\(/],
  ["xss-attribute-breakout", 1, /=/, /["'`][ /]*(style ?= ?['"]?[^'"]{0,100}(expression\(|behavior ?:|-moz-binding)|(src|href|formaction|action) ?= ?['"]? ?(javascript|vbscript):)/],
  ["xss-script-url", 1, /script ?:/, /(^|[\s"'`=(,:])(j ?a ?v ?a ?s ?c ?r ?i ?p ?t|v ?b ?s ?c ?r ?i ?p ?t|livescript) ?:(?! )/],
  ["xss-script-url", 1, /data/, /(^|[\s"'`=(,])data ?: ?(text\/html|image\/svg\+xml|application\/x?html)/],
  ["xss-css", 1, /expression|binding|behavior/, /\bexpression\(|-moz-binding|\bbehavior ?: ?url\(/],
  // Out of a string in a script: `';alert(1)//`, `"-alert(1)-"`, `\';alert(1)//`.
  ["xss-script-breakout", 1, /['"`]/, /['"`] ?[;,+\-*/|&)]+ ?(alert|prompt|confirm|eval|fetch|settimeout|setinterval|import|constructor) ?\(|['"`] ?[;,+\-*/|&)]+ ?(document|window|top|self|location)\.[a-z]+/],
  ["xss-dom-sink", 2, /[.(]/, /\b(document\.(cookie|domain|write)|window\.location|\.innerhtml ?=|string\.fromcharcode|eval ?\(|alert ?\(|prompt ?\(|confirm ?\(|settimeout ?\(|new function ?\()/],
  ["xss-css", 2, /expression/, /\bexpression ?\(/],
  ["xss-utf7", 2, /\+a/, /\+adw-|\+ad4-/],
  ["xss-tag", 2, /</, /<(style|xml|xss|html|body|head)\b|<\/script\b/],
  // An unknown tag with attributes, a closing tag of a raw-text element, an unfinished tag.
  ["xss-tag", 3, /</, /<[a-z][a-z0-9-]* [a-z-]+ ?=|<\/(title|textarea|style|noscript|xmp|iframe|noembed|plaintext)\b/],
];


export function crossSiteScripting(text: string, find: Finder, paranoia: ParanoiaLevel): void {
  // `<%00script>`: some parsers drop the NUL.
  if (text.includes("\u2400")) text = text.replaceAll("\u2400", "");
  if (text.includes("<")) {
    if (tags(text, find, true)) return;
    if ((text.includes('"') || text.includes("'") || text.includes("`")) && tags(text, find, false)) return;
  }
  for (const [rule, level, hint, pattern] of CONTEXT_RULES) {
    if (level <= paranoia && hint.test(text) && pattern.test(text) && find(rule, level)) return;
  }
}
