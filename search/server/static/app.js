// carematch patient page: results as you type, on top of a form that works without JavaScript.
// Everything shown is built with DOM APIs and textContent: never innerHTML with data.
(function () {
  "use strict";

  var form = document.getElementById("search-form");
  if (!form || !window.fetch || !window.URLSearchParams || !window.AbortController) return;
  var S;
  try { S = JSON.parse(form.getAttribute("data-strings") || "{}"); } catch (e) { return; }

  var input = document.getElementById("q");
  var results = document.getElementById("results");
  var cards = document.getElementById("cards");
  var status = document.getElementById("status");
  var searchedQ = document.getElementById("searched-q");
  var understood = document.getElementById("understood");
  var MAX = parseInt(input.getAttribute("maxlength"), 10) || 1000;
  var lang = S.lang || document.documentElement.lang || "en";
  var numbers = new Intl.NumberFormat(lang);
  var timer = 0;
  var controller = null;
  var lastKey = null;

  function fmt(template, values) {
    return String(template).replace(/%\((\w+)\)s/g, function (m, k) {
      return Object.prototype.hasOwnProperty.call(values, k) ? String(values[k]) : m;
    });
  }

  function list(items) {
    try { return new Intl.ListFormat(lang, { style: "long", type: "conjunction" }).format(items); }
    catch (e) { return items.join(", "); }
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== "string") return null;
    try {
      var url = new URL(value);
      return url.protocol === "https:" || url.protocol === "http:" ? url : null;
    } catch (e) { return null; }
  }

  function fields() {
    var service = form.querySelector("input[name=service]:checked");
    var ui = form.querySelector("input[name=ui]");
    return {
      q: input.value,
      country: form.querySelector("#country").value,
      service: service ? service.value : "",
      ui: ui ? ui.value : ""
    };
  }

  function pageUrl(f, ui) {
    var p = new URLSearchParams();
    ["q", "country", "service"].forEach(function (k) { if (f[k]) p.set(k, f[k]); });
    if (ui) p.set("ui", ui);
    var s = p.toString();
    return "/" + (s ? "?" + s : "");
  }

  function card(r) {
    var li = el("li", { "class": "card" });
    var art = el("article");
    li.appendChild(art);
    var centre = r.centre || {};
    var head = el("header");
    head.appendChild(el("h3", { lang: "fr", dir: "ltr" }, centre.name));
    var meta = el("p", { "class": "meta", lang: lang });
    meta.appendChild(el("span", { "class": "city", lang: "fr", dir: "ltr" }, centre.city));
    meta.append(" ");
    meta.appendChild(el("span", { "class": "badge service" }, (S.services || {})[r.service] || r.service));
    var delivery = (S.delivery || {})[r.delivery];
    if (delivery) {
      meta.append(" ");
      meta.appendChild(el("span", { "class": "badge delivery" }, delivery));
    }
    head.appendChild(meta);
    art.appendChild(head);
    art.appendChild(el("p", { "class": "title", dir: "auto" }, r.title));

    if (r.why && r.why.length) {
      var why = el("div", { "class": "why" });
      why.appendChild(el("p", { "class": "label", lang: lang }, S.why));
      var ul = el("ul", { dir: "auto" });
      r.why.forEach(function (w) { ul.appendChild(el("li", null, w.text)); });
      why.appendChild(ul);
      art.appendChild(why);
    }

    var spoken = el("p", { "class": "spoken", lang: lang });
    spoken.appendChild(el("span", { "class": "label" }, S.spoken));
    var names = (r.languages || []).map(function (c) { return (S.languages || {})[c] || c; });
    spoken.append(" " + list(names));
    art.appendChild(spoken);

    if (r.more && r.more.length) {
      var more = el("details", { "class": "more" });
      more.appendChild(el("summary", { lang: lang }, S.more + " (" + numbers.format(r.more.length) + ")"));
      var mul = el("ul", { dir: "auto" });
      r.more.forEach(function (m) { mul.appendChild(el("li", null, m.title)); });
      more.appendChild(mul);
      art.appendChild(more);
    }

    var url = safeUrl(r.url) || safeUrl(centre.website);
    if (url) {
      var site = el("p", { "class": "site", lang: lang });
      var a = el("a", { href: url.href, rel: "noopener noreferrer external" }, S.website);
      a.appendChild(el("span", { "class": "visually-hidden" }, ": " + centre.name));
      site.appendChild(a);
      site.append(" ");
      site.appendChild(el("span", { "class": "host", dir: "ltr" }, url.hostname.replace(/^www\./, "")));
      art.appendChild(site);
    }
    return li;
  }

  function showUnderstood(concepts) {
    while (understood.firstChild) understood.removeChild(understood.firstChild);
    understood.appendChild(el("span", { "class": "label" }, S.understood));
    concepts.slice(0, 3).forEach(function (c) {
      understood.append(" ");
      var span = el("span", { "class": "concept", dir: "auto" }, c.label + " ");
      span.appendChild(el("span", { "class": "code", dir: "ltr" }, (c.icd10 || []).join(", ")));
      understood.appendChild(span);
    });
    understood.hidden = concepts.length === 0;
  }

  function render(data, q) {
    results.hidden = false;
    searchedQ.textContent = q;
    var list = data.results || [];
    while (cards.firstChild) cards.removeChild(cards.firstChild);
    list.forEach(function (r) { cards.appendChild(card(r)); });
    cards.setAttribute("data-query-language", (data.language && data.language.code) || "");
    status.textContent = list.length ? fmt(S.count, { num: numbers.format(list.length) }) : S.none;
    showUnderstood(data.concepts || []);
  }

  function showMessage(q, message) {
    results.hidden = false;
    searchedQ.textContent = q;
    while (cards.firstChild) cards.removeChild(cards.firstChild);
    cards.setAttribute("data-query-language", "");
    showUnderstood([]);
    status.textContent = message;
  }

  function updateSwitcher(f) {
    var links = document.querySelectorAll(".langmenu a[hreflang]");
    Array.prototype.forEach.call(links, function (a) {
      a.setAttribute("href", pageUrl(f, a.getAttribute("hreflang")));
    });
  }

  function search(force) {
    var f = fields();
    var key = [f.q, f.country, f.service].join("\u0000");
    if (!force && key === lastKey) return Promise.resolve(true);
    if (!f.q.trim() && !f.service) return Promise.resolve(!force);
    if (!force && f.q.trim().length < 2) return Promise.resolve(true);
    lastKey = key;
    if (f.q.length > MAX) {
      showMessage(f.q, fmt(S.tooLong, { num: numbers.format(MAX) }));
      return Promise.resolve(true);
    }
    if (controller) controller.abort();
    controller = new AbortController();
    var api = new URLSearchParams();
    api.set("q", f.q);
    if (f.country) api.set("country", f.country);
    if (f.service) api.set("service", f.service);
    api.set("limit", "10");
    results.classList.add("loading");
    results.setAttribute("aria-busy", "true");
    return fetch("/api/search?" + api.toString(), {
      signal: controller.signal, headers: { "Accept": "application/json" },
      credentials: "same-origin", cache: "no-store"
    }).then(function (resp) {
      return resp.json().then(function (data) { return { ok: resp.ok, data: data }; });
    }).then(function (res) {
      if (res.ok) render(res.data, f.q);
      else showMessage(f.q, res.data && res.data.error && res.data.error.code === "bad_query" ? S.none : S.error);
      history.replaceState(null, "", pageUrl(f, f.ui));
      updateSwitcher(f);
      return true;
    }).catch(function (e) {
      if (e && e.name === "AbortError") return true;
      lastKey = null;
      return false;
    }).then(function (done) {
      results.classList.remove("loading");
      results.removeAttribute("aria-busy");
      return done;
    });
  }

  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () { search(false); }, 280);
  });
  form.addEventListener("change", function (e) {
    if (e.target !== input) { clearTimeout(timer); search(false); }
  });
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearTimeout(timer);
    search(true).then(function (done) {
      if (!done) window.location.assign(pageUrl(fields(), fields().ui));  // the server renders it
    });
  });
})();
