/* opportunity_map: the map's layers, popups, search and filter, built in the
 * browser from one JSON payload. Every string that comes from the data is put
 * in the page with textContent / DOM properties; the only innerHTML sinks
 * (Leaflet's layer-control labels, attribution) receive esc()-aped text. */
(function (global) {
  "use strict";
  var L = global.L;
  var SVG_NS = "http://www.w3.org/2000/svg";

  // ------------------------------------------------------------------ helpers
  function esc(value) {
    return String(value === undefined || value === null ? "" : value).replace(
      /[&<>"'`$\\{}\u2028\u2029]/g, function (c) { return "&#" + c.charCodeAt(0) + ";"; });
  }
  function now() { return global.performance ? global.performance.now() : 0; }
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }
  function add(parent, child) { parent.appendChild(child); return child; }
  function fold(text) {
    return String(text || "").normalize("NFD").replace(/[\u0300-\u036f]/g, "").toLowerCase();
  }
  /* The forgiving key of a comune name, as geography.comune_key computes it in
     Python: decomposed (NFKD), combining marks and invisible format characters
     dropped, lower case, any run of other characters a separator, and every
     form of San/Santo/Santa/Sant'/S./SS./Santi the token "s". (Python drops the
     marks of non-zero combining class: for the Latin script, the same ones.) */
  var SAINT = { s: 1, san: 1, santo: 1, santa: 1, sant: 1, ss: 1, santi: 1 };
  function comuneKey(name) {
    var text = String(name === undefined || name === null ? "" : name).normalize("NFKD")
      .replace(/[\p{Mn}\p{Cf}]/gu, "").toLowerCase();
    return text.split(/[^a-z0-9]+/).filter(function (t) { return t; })
      .map(function (t) { return SAINT[t] ? "s" : t; }).join(" ");
  }
  /* Great-circle distance in km (haversine, R = 6371.0088 km, as finder.haversine_km). */
  var EARTH_RADIUS_KM = 6371.0088;
  function haversineKm(lat1, lon1, lat2, lon2) {
    var r = Math.PI / 180, p1 = lat1 * r, p2 = lat2 * r;
    var sp = Math.sin((p2 - p1) / 2), sl = Math.sin((lon2 - lon1) * r / 2);
    var a = sp * sp + Math.cos(p1) * Math.cos(p2) * sl * sl;
    return 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(Math.min(Math.max(a, 0), 1)));
  }
  /* "3,4 km": one decimal, decimal comma. */
  function kmText(km) { return km.toFixed(1).replace(".", ",") + " km"; }
  function plural(n, one, many) { return n + " " + (n === 1 ? one : many); }
  function itDate(iso) {
    var m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(iso || "");
    return m ? m[3] + "/" + m[2] + "/" + m[1] : "";
  }
  /* Days since 1970-01-01 as dd/mm/yyyy. */
  function dayDate(days) {
    if (typeof days !== "number" || !isFinite(days)) { return ""; }
    return itDate(new Date(days * 86400000).toISOString().slice(0, 10));
  }
  function safeHref(url) {
    return typeof url === "string" && /^(https?:\/\/|mailto:)/i.test(url) ? url : null;
  }
  function safeColor(color) {
    return typeof color === "string" && /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#777777";
  }
  function textOrLink(text, href) {
    var url = safeHref(href);
    if (!url) { return document.createTextNode(String(text)); }
    var a = el("a", null, text);
    a.href = url;
    if (!/^mailto:/i.test(url)) { a.target = "_blank"; a.rel = "noopener noreferrer"; }
    return a;
  }
  function quiet(node) {
    L.DomEvent.disableClickPropagation(node);
    L.DomEvent.disableScrollPropagation(node);
    return node;
  }
  function panelControl(position, build) {
    var Control = L.Control.extend({
      options: { position: position },
      onAdd: function () { return quiet(build()); }
    });
    return new Control();
  }
  function collapsible(className, title, open) {
    var details = el("details", "om-panel " + className);
    details.open = open;
    add(details, el("summary", null, title));
    return details;
  }

  // ------------------------------------------------------------ shape markers
  function shapePoints(shape, x, y, r) {
    var s, k, a, pts = [];
    if (shape === "square") {
      s = r * 0.88;
      return [[x - s, y - s], [x + s, y - s], [x + s, y + s], [x - s, y + s]];
    }
    if (shape === "diamond") {
      s = r * 1.25;
      return [[x, y - s], [x + s, y], [x, y + s], [x - s, y]];
    }
    if (shape === "triangle") {
      s = r * 1.3;
      return [[x, y - s], [x + s * 0.95, y + s * 0.62], [x - s * 0.95, y + s * 0.62]];
    }
    if (shape === "triangle-down") {
      s = r * 1.3;
      return [[x, y + s], [x + s * 0.95, y - s * 0.62], [x - s * 0.95, y - s * 0.62]];
    }
    if (shape === "hexagon" || shape === "star") {
      s = r * 1.08;
      var n = shape === "star" ? 10 : 6;
      for (k = 0; k < n; k++) {
        a = (2 * Math.PI / n) * k - Math.PI / 2;
        var rr = shape === "star" && k % 2 ? s * 0.5 : s;
        pts.push([x + rr * Math.cos(a), y + rr * Math.sin(a)]);
      }
      return pts;
    }
    return null;
  }
  L.Canvas.include({
    _updateOmShape: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var p = layer._point, ctx = this._ctx, r = Math.max(Math.round(layer._radius), 1);
      var pts = shapePoints(layer.options.shape, p.x, p.y, r);
      ctx.beginPath();
      if (!pts) {
        ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      } else {
        ctx.moveTo(pts[0][0], pts[0][1]);
        for (var k = 1; k < pts.length; k++) { ctx.lineTo(pts[k][0], pts[k][1]); }
        ctx.closePath();
      }
      this._fillStroke(ctx, layer);
    },
    /* A cluster: a disc in the group's colour with a white ring, a thin dark
       outline and the count in white (the look of the former DOM cluster icons). */
    _updateOmCluster: function (layer) {
      if (!this._drawing || layer._empty()) { return; }
      var p = layer._point, ctx = this._ctx, r = layer._radius;
      ctx.globalAlpha = 1;
      ctx.beginPath();
      ctx.arc(p.x, p.y, r + 1, 0, Math.PI * 2, false);
      ctx.fillStyle = "rgba(0,0,0,0.5)";
      ctx.fill();
      ctx.beginPath();
      ctx.arc(p.x, p.y, r, 0, Math.PI * 2, false);
      ctx.fillStyle = "#ffffff";
      ctx.fill();
      ctx.beginPath();
      ctx.arc(p.x, p.y, r - 2, 0, Math.PI * 2, false);
      ctx.fillStyle = layer.options.fillColor;
      ctx.fill();
      ctx.font = '700 12px "Helvetica Neue", Arial, Helvetica, sans-serif';
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.lineJoin = "round";
      ctx.lineWidth = 2.5;
      ctx.strokeStyle = "rgba(0,0,0,0.55)";
      ctx.strokeText(layer.omLabel, p.x, p.y + 0.5);
      ctx.fillStyle = "#ffffff";
      ctx.fillText(layer.omLabel, p.x, p.y + 0.5);
    }
  });
  var ClusterMarker = L.CircleMarker.extend({
    _updatePath: function () {
      if (this._renderer._updateOmCluster) { this._renderer._updateOmCluster(this); }
      else { this._renderer._updateCircle(this); }
    }
  });
  var ShapeMarker = L.CircleMarker.extend({
    options: { shape: "circle" },
    _updatePath: function () {
      if (this._renderer._updateOmShape) { this._renderer._updateOmShape(this); }
      else { this._renderer._updateCircle(this); }
    }
  });

  /* An SVG symbol as a string; only numbers and a validated colour go in it. */
  function symbolSvg(shape, color, hollow) {
    var c = safeColor(color);
    var pts = shapePoints(shape, 8, 8, 5);
    var style = hollow
      ? ' fill="#ffffff" stroke="' + c + '" stroke-width="1.6" stroke-dasharray="2.5 1.5"'
      : ' fill="' + c + '" stroke="#1f1f1f" stroke-width="1"';
    var body = pts
      ? '<polygon points="' + pts.map(function (p) {
        return p[0].toFixed(2) + "," + p[1].toFixed(2);
      }).join(" ") + '"' + style + "/>"
      : '<circle cx="8" cy="8" r="5"' + style + "/>";
    return '<svg class="om-symbol" width="16" height="16" viewBox="0 0 16 16" ' +
      'aria-hidden="true">' + body + "</svg>";
  }
  function symbolNode(shape, color, hollow) {
    var span = el("span", "om-symbol-wrap");
    span.innerHTML = symbolSvg(shape, color, hollow);
    return span;
  }
  function lineNode(color, weight, dash, opacity) {
    var svg = document.createElementNS(SVG_NS, "svg");
    svg.setAttribute("width", "28"); svg.setAttribute("height", "12");
    svg.setAttribute("class", "om-symbol");
    var line = document.createElementNS(SVG_NS, "line");
    line.setAttribute("x1", "2"); line.setAttribute("y1", "6");
    line.setAttribute("x2", "26"); line.setAttribute("y2", "6");
    line.setAttribute("stroke", safeColor(color));
    line.setAttribute("stroke-width", String(weight));
    line.setAttribute("stroke-linecap", "round");
    if (opacity) { line.setAttribute("stroke-opacity", String(opacity)); }
    if (dash) { line.setAttribute("stroke-dasharray", dash); }
    svg.appendChild(line);
    return svg;
  }
  function legendRow(list, symbol, label) {
    var li = add(list, el("li"));
    add(li, symbol);
    add(li, el("span", null, label));
    return li;
  }

  // ------------------------------------------------------------- the payload
  /* The payload's column arrays (version 3 and 4) as one small object per organisation
     (same short keys as the popups use) and one row per tie:
     [i, j, kind, level, since (day number or null), new, notes, kinds, relations]. */
  function decode(data) {
    var S = data.strings || [""];
    var A = data.actors || {}, O = data.opportunities || {}, T = data.ties || {};
    var scale = data.coordScale || 100000;
    function col(obj, name, n) { var c = obj[name]; return c && c.length === n ? c : null; }
    function s(c, k) { var v = c ? S[c[k]] : undefined; return v === undefined ? "" : v; }
    var ids = A.id || [], N = ids.length;
    var name = col(A, "name", N), lon = col(A, "lon", N), lat = col(A, "lat", N);
    var group = col(A, "group", N), kind = col(A, "kind", N), flags = col(A, "flags", N);
    var degree = col(A, "degree", N), comune = col(A, "comune", N);
    var address = col(A, "address", N), phone = col(A, "phone", N);
    var notes = col(A, "notes", N), web = col(A, "website", N);
    var email = col(A, "email", N), links = col(A, "links", N);
    var linkOther = A.linkOther || {}, otherWeb = linkOther.w || {}, otherMail = linkOther.e || {};
    // links were checked in Python: a flag says the text (or "mailto:" + it) is the link
    function webHref(k) {
      if (!links || !(links[k] & 1)) { return ""; }
      return otherWeb[k] !== undefined ? (S[otherWeb[k]] || "") : s(web, k);
    }
    function emailHref(k) {
      if (!links || !(links[k] & 2)) { return ""; }
      return otherMail[k] !== undefined ? (S[otherMail[k]] || "") : "mailto:" + s(email, k);
    }
    var props = new Array(N), latlngs = new Array(N);
    // Web Mercator at scale 1 (Leaflet's EPSG:3857 pixel = world * 256 * 2^zoom)
    var world = { x: new Float64Array(N), y: new Float64Array(N) }, MAXLAT = 85.0511287798;
    for (var i = 0; i < N; i++) {
      props[i] = {
        id: ids[i], n: name ? String(name[i]) : "", k: s(kind, i), g: group ? group[i] : 0,
        c: s(comune, i), a: s(address, i), p: s(phone, i), t: s(notes, i),
        w: s(web, i), wh: webHref(i), e: s(email, i), eh: emailHref(i),
        x: flags ? flags[i] & 1 : 0, d: degree ? degree[i] : 0, o: null
      };
      var la = Math.max(Math.min(lat[i] / scale, MAXLAT), -MAXLAT), lo = lon[i] / scale;
      latlngs[i] = L.latLng(la, lo);
      var sin = Math.sin(la * Math.PI / 180);
      world.x[i] = lo / 360 + 0.5;
      world.y[i] = 0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI);
    }
    var oa = O.actor || [], M = oa.length;
    var ot = col(O, "type", M), on = col(O, "name", M), oc = col(O, "capacity", M);
    var og = col(O, "target", M), onotes = col(O, "notes", M);
    for (var o = 0; o < M; o++) {
      var pr = props[oa[o]];
      if (!pr) { continue; }
      (pr.o || (pr.o = [])).push([ot ? ot[o] : -1, s(on, o), oc && oc[o] ? S[oc[o]] : null,
                                  s(og, o), s(onotes, o)]);
    }
    var ti = T.i || [], R = ti.length;
    var tj = col(T, "j", R), tk = col(T, "kind", R), tl = col(T, "level", R);
    var tsince = col(T, "since", R), tnew = col(T, "new", R), tnotes = col(T, "notes", R);
    var rels = new Array(R);
    for (var r = 0; r < R; r++) {
      rels[r] = [ti[r], tj[r], tk ? tk[r] : -1, tl ? tl[r] : 0,
                 tsince ? tsince[r] : null, tnew ? tnew[r] : 0, s(tnotes, r)];
    }
    var multi = T.multi || {}, mt = multi.tie || [];
    for (var q = 0; q < mt.length; q++) {
      var row = rels[mt[q]];
      if (!row) { continue; }
      row[7] = (multi.kinds || [])[q] || [row[2]];
      row[8] = (multi.relations || [])[q] || 1;
    }
    return { props: props, latlngs: latlngs, world: world, rels: rels };
  }

  // ---------------------------------------------------------------- the map
  function pane(map, name, zIndex) {
    var p = map.getPane(name) || map.createPane(name);
    p.style.zIndex = String(zIndex);
    return name;
  }

  function addBoundaries(map, data, noTiles) {
    var b = data.boundaries || {};
    var rBound = L.canvas({ pane: pane(map, "omBoundaries", 350) });
    var layers = {};
    if (b.comuni && b.comuni.features && b.comuni.features.length) {
      layers.comuni = L.geoJSON(b.comuni, {
        renderer: rBound, interactive: false,
        style: { color: "#8c8c8c", weight: 0.6, opacity: 0.8,
                 fill: noTiles, fillColor: "#fbfaf4", fillOpacity: noTiles ? 1 : 0 }
      });
    }
    if (b.province && b.province.features && b.province.features.length) {
      layers.province = L.geoJSON(b.province, {
        renderer: rBound, interactive: false,
        style: { color: "#303030", weight: 2.6, opacity: 0.9, fill: false }
      });
    }
    if (b.ambiti && b.ambiti.features && b.ambiti.features.length) {
      var ambiti = L.layerGroup();
      L.geoJSON(b.ambiti, {
        renderer: rBound, interactive: false,
        style: { color: "#b35806", weight: 1.8, opacity: 0.9, dashArray: "7 5", fill: false }
      }).addTo(ambiti);
      b.ambiti.features.forEach(function (f) {
        var lp = f.properties && f.properties.label;
        if (!lp) { return; }
        L.tooltip({ permanent: true, direction: "center", className: "om-ambito-label",
                    interactive: false, opacity: 0.85 })
          .setLatLng([lp[0], lp[1]])
          .setContent(el("span", null, f.properties.name))
          .addTo(ambiti);
      });
      layers.ambiti = ambiti;
    }
    return layers;
  }

  function markerStyle(group, approx) {
    return approx
      ? { shape: group.shape, radius: 6.5, color: safeColor(group.color), weight: 2,
          opacity: 1, dashArray: "3 2", fillColor: "#ffffff", fillOpacity: 0.8 }
      : { shape: group.shape, radius: 6.5, color: "#1f1f1f", weight: 1, opacity: 0.9,
          fillColor: safeColor(group.color), fillOpacity: 0.92 };
  }

  /* Clustering of one group's organisations, computed for the current zoom only
     (cached per zoom) from world coordinates in typed arrays: a greedy grid (a
     point joins the nearest cluster seeded within RADIUS pixels, else seeds one).
     Clusters are discs with their count on the markers' canvas (a click zooms
     in; where zooming cannot split them it lists their members); lone
     organisations are the same canvas shape markers as without clustering. Only what is in view (plus
     a margin) is on the map. */
  var RADIUS = 36;
  var GridCluster = L.FeatureGroup.extend({
    initialize: function (world, markerOf, color, onList, renderer) {
      L.FeatureGroup.prototype.initialize.call(this);
      this._renderer = renderer;
      this._world = world;            // {x: Float64Array, y: Float64Array} at zoom 0
      this._markerOf = markerOf;      // k -> canvas marker
      this._color = safeColor(color);
      this._onList = onList;          // (members, latlng) -> shows a list
      this._members = [];
      this._cache = {};
      this._shown = {};
    },
    setMembers: function (members) {
      this._members = members;
      this._cache = {};
      if (this._map) { this._clearShown(); this._refresh(); }
      return this;
    },
    size: function () { return this._members.length; },
    onAdd: function (map) {
      L.FeatureGroup.prototype.onAdd.call(this, map);
      map.on("zoomend moveend", this._refresh, this);
      this._refresh();
    },
    onRemove: function (map) {
      map.off("zoomend moveend", this._refresh, this);
      this._clearShown();
      L.FeatureGroup.prototype.onRemove.call(this, map);
    },
    _clearShown: function () {
      for (var key in this._shown) { this.removeLayer(this._shown[key]); }
      this._shown = {};
    },
    /* The clusters at integer zoom z: {n, sx, sy, x0, y0, x1, y1, first, members, of}. */
    clustersAt: function (z) {
      var cached = this._cache[z];
      if (cached) { return cached; }
      var wx = this._world.x, wy = this._world.y, s = 256 * Math.pow(2, z) / RADIUS;
      var members = this._members, M = members.length;
      var cells = new Map(), list = [], r2 = 1;
      for (var m = 0; m < M; m++) {
        var k = members[m], gx = wx[k] * s, gy = wy[k] * s;
        var cx = Math.floor(gx), cy = Math.floor(gy), best = -1, bestD = r2;
        for (var dx = -1; dx <= 1; dx++) {
          for (var dy = -1; dy <= 1; dy++) {
            var cell = cells.get((cx + dx) * 67108864 + (cy + dy));
            if (!cell) { continue; }
            for (var q = 0; q < cell.length; q++) {
              var c = list[cell[q]], ex = c.gx - gx, ey = c.gy - gy, d = ex * ex + ey * ey;
              if (d <= bestD) { bestD = d; best = cell[q]; }
            }
          }
        }
        if (best < 0) {
          best = list.length;
          list.push({ gx: gx, gy: gy, n: 0, sx: 0, sy: 0, x0: wx[k], y0: wy[k], x1: wx[k],
                      y1: wy[k], members: [] });
          var key = cx * 67108864 + cy, own = cells.get(key);
          if (own) { own.push(best); } else { cells.set(key, [best]); }
        }
        var cl = list[best];
        cl.n += 1; cl.sx += wx[k]; cl.sy += wy[k]; cl.members.push(k);
        if (wx[k] < cl.x0) { cl.x0 = wx[k]; } if (wx[k] > cl.x1) { cl.x1 = wx[k]; }
        if (wy[k] < cl.y0) { cl.y0 = wy[k]; } if (wy[k] > cl.y1) { cl.y1 = wy[k]; }
      }
      this._cache[z] = list;
      return list;
    },
    /* Is organisation k alone (not in a cluster) at zoom z? */
    aloneAt: function (k, z) {
      var list = this.clustersAt(z);
      for (var c = 0; c < list.length; c++) {
        if (list[c].members.indexOf(k) >= 0) { return list[c].n === 1; }
      }
      return true;
    },
    _refresh: function () {
      var map = this._map;
      if (!map || map._animatingZoom) { return; }
      var z = Math.round(map.getZoom()), list = this.clustersAt(z);
      var scale = 256 * Math.pow(2, map.getZoom());
      var b = map.getPixelBounds(), size = b.getSize();
      var x0 = b.min.x - size.x * 0.2, x1 = b.max.x + size.x * 0.2;
      var y0 = b.min.y - size.y * 0.2, y1 = b.max.y + size.y * 0.2;
      var next = {};
      for (var c = 0; c < list.length; c++) {
        var cl = list[c];
        var px = cl.n === 1 ? cl.sx : cl.sx / cl.n, py = cl.n === 1 ? cl.sy : cl.sy / cl.n;
        px *= scale; py *= scale;
        if (px < x0 || px > x1 || py < y0 || py > y1) { continue; }
        var key = z + ":" + c, layer = this._shown[key];
        if (!layer) {
          layer = cl.n === 1 ? this._markerOf(cl.members[0]) : this._icon(cl, z);
          this.addLayer(layer);
        }
        next[key] = layer;
      }
      for (var old in this._shown) {
        if (!next[old]) { this.removeLayer(this._shown[old]); }
      }
      this._shown = next;
    },
    _icon: function (cl, z) {
      if (cl.icon) { return cl.icon; }
      var n = cl.n, size = n < 10 ? 26 : n < 100 ? 32 : 38;
      var center = L.CRS.EPSG3857.pointToLatLng(L.point(cl.sx / n * 256, cl.sy / n * 256), 0);
      var icon = new ClusterMarker(center, {
        renderer: this._renderer, radius: size / 2, fillColor: this._color, weight: 0
      });
      icon.omLabel = String(n);
      icon.omCluster = cl;
      var self = this;
      icon.on("click", function () { self._open(cl, z, center); });
      cl.icon = icon;
      return icon;
    },
    clustersShown: function () {
      var n = 0;
      for (var key in this._shown) { if (this._shown[key].omCluster) { n += 1; } }
      return n;
    },
    /* Zoom to the cluster's organisations; when zooming cannot separate them
       (deepest zoom, or all on one point) list them instead. */
    _open: function (cl, z, center) {
      var map = this._map;
      if (!map) { return; }
      var crs = L.CRS.EPSG3857;
      var sw = crs.pointToLatLng(L.point(cl.x0 * 256, cl.y1 * 256), 0);
      var ne = crs.pointToLatLng(L.point(cl.x1 * 256, cl.y0 * 256), 0);
      var top = isFinite(map.getMaxZoom()) ? map.getMaxZoom() : 18;
      var target = Math.min(map.getBoundsZoom(L.latLngBounds(sw, ne)), top);
      if (target > map.getZoom() && (cl.x1 > cl.x0 || cl.y1 > cl.y0)) {
        map.fitBounds(L.latLngBounds(sw, ne), { padding: [20, 20], maxZoom: target });
      } else {
        this._onList(cl.members, center);
      }
    }
  });

  /* Ties of one style drawn on a canvas renderer as straight segments from
     organisation world coordinates (typed arrays), in one pass: no Polyline,
     no per-point objects. Not interactive. */
  var TieSegments = L.Path.extend({
    options: { interactive: false, lineCap: "butt", fill: false },
    initialize: function (world, pairs, options) {
      L.setOptions(this, options);
      this._world = world;
      this._pairs = pairs;            // Int32Array [a0, b0, a1, b1, ...]
      var wx = world.x, wy = world.y, x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (var i = 0; i < pairs.length; i++) {
        var k = pairs[i];
        if (wx[k] < x0) { x0 = wx[k]; } if (wx[k] > x1) { x1 = wx[k]; }
        if (wy[k] < y0) { y0 = wy[k]; } if (wy[k] > y1) { y1 = wy[k]; }
      }
      this._wb = [x0, y0, x1, y1];
    },
    count: function () { return this._pairs.length / 2; },
    _project: function () {
      var map = this._map;
      this._scale = 256 * Math.pow(2, map.getZoom());
      this._origin = map.getPixelOrigin();
      this._updateBounds();
    },
    _updateBounds: function () {
      if (!this._scale) { return; }
      var w = (this.options.weight || 0) / 2 + 1, s = this._scale, o = this._origin, b = this._wb;
      this._pxBounds = this._pairs.length
        ? L.bounds([b[0] * s - o.x - w, b[1] * s - o.y - w], [b[2] * s - o.x + w, b[3] * s - o.y + w])
        : undefined;
    },
    _update: function () {},
    _empty: function () { return !this._pairs.length; },
    _containsPoint: function () { return false; },
    _updatePath: function () {
      var r = this._renderer;
      if (!r._drawing || !this._pairs.length) { return; }
      var ctx = r._ctx, o = this.options, wx = this._world.x, wy = this._world.y;
      var pairs = this._pairs, s = this._scale, ox = this._origin.x, oy = this._origin.y;
      var b = r._bounds, bx0 = b.min.x, by0 = b.min.y, bx1 = b.max.x, by1 = b.max.y;
      if (ctx.setLineDash) { ctx.setLineDash(o.omDash || []); }
      ctx.globalAlpha = o.opacity;
      ctx.strokeStyle = o.color;
      ctx.lineCap = o.lineCap;
      /* Without a GPU, Skia rasterises anti-aliased hairlines (width <= 1 px) several
         times faster than wider strokes, which go through its supersampling path
         filler. So a line w px wide is drawn as round(w) parallel hairlines spread
         over its width (same coverage, same look at a glance), all in one path. */
      var w = o.weight, n = w <= 1 ? 1 : Math.max(2, Math.round(w));
      /* the highlight of new ties lies under the ties themselves (at least 0.5 px
         wide, drawn over it): its middle hairline would be hidden, so only its
         edges are drawn, like a casing */
      if (o.omCasing && n === 3) { n = 2; }
      var step = n > 1 ? (w - 1) / (n - 1) : 0, first = -(n - 1) / 2 * step;
      ctx.lineWidth = Math.min(w, 1);
      ctx.beginPath();
      for (var i = 0; i < pairs.length; i += 2) {
        var a = pairs[i], c = pairs[i + 1];
        var xa = wx[a] * s - ox, ya = wy[a] * s - oy, xc = wx[c] * s - ox, yc = wy[c] * s - oy;
        if ((xa < bx0 && xc < bx0) || (xa > bx1 && xc > bx1) ||
            (ya < by0 && yc < by0) || (ya > by1 && yc > by1)) { continue; }
        if (n === 1) {
          ctx.moveTo(xa, ya);
          ctx.lineTo(xc, yc);
          continue;
        }
        var dx = xc - xa, dy = yc - ya, len = Math.sqrt(dx * dx + dy * dy);
        if (!len) { continue; }
        var nx = -dy / len, ny = dx / len;
        for (var q = 0; q < n; q++) {
          var off = first + q * step;
          ctx.moveTo(xa + nx * off, ya + ny * off);
          ctx.lineTo(xc + nx * off, yc + ny * off);
        }
      }
      ctx.stroke();
      if (o.omDash && ctx.setLineDash) { ctx.setLineDash([]); }
    }
  });

  /* The payload's timeline (version 4): the dates the page can show, which
     organisations are active at each (bit d of actorsOn) and each tie's level at
     each (levelBits bits per date in tieLevels, 0 = no tie). Without one, the map
     has its own date only. */
  function timelineOf(data, N, rels) {
    var T = data.timeline || {};
    var dates = T.dates && T.dates.length ? T.dates : [data.asOf];
    var current = typeof T.current === "number" && dates[T.current] ? T.current : 0;
    var on = T.actorsOn && T.actorsOn.length === N ? T.actorsOn : null;
    var lv = T.tieLevels && T.tieLevels.length === rels.length ? T.tieLevels : null;
    var base = Math.pow(2, T.levelBits || 3);
    var actorsAt = {}, levelsAt = {};
    return {
      dates: dates, current: current,
      compare: typeof T.compare === "number" && dates[T.compare] ? T.compare : null,
      showChanges: !!T.showChanges,
      stats: T.stats || [], summaries: T.summaries || [],
      actors: function (d) {
        if (!actorsAt[d]) {
          var a = new Uint8Array(N), p = Math.pow(2, d);
          for (var k = 0; k < N; k++) {
            a[k] = on ? Math.floor(on[k] / p) % 2 : (d === current ? 1 : 0);
          }
          actorsAt[d] = a;
        }
        return actorsAt[d];
      },
      levels: function (d) {
        if (!levelsAt[d]) {
          var R = rels.length, l = new Uint8Array(R), p = Math.pow(base, d);
          for (var r = 0; r < R; r++) {
            l[r] = lv ? Math.floor(lv[r] / p) % base : (d === current ? rels[r][3] : 0);
          }
          levelsAt[d] = l;
        }
        return levelsAt[d];
      },
      /* the date a date is compared with: the previous Tavolo for the map's own
         date when one was given, otherwise the date before it in the list */
      previous: function (d) {
        if (d === current && this.compare !== null && this.compare < d) { return this.compare; }
        return d > 0 ? d - 1 : null;
      }
    };
  }

  function render(map, data, options) {
    options = options || {};
    var t0 = now(), marks = {};
    function mark(name) { marks[name] = Math.round(now() - t0); }
    var noTiles = !options.tileLayer;
    /* on a phone the panels start closed, so that the map is seen */
    var narrow = !!(global.matchMedia && global.matchMedia("(max-width: 600px)").matches);
    var summaryBox = null, legendBox = null;
    L.DomUtil.addClass(map.getContainer(), noTiles ? "om-no-tiles" : "om-tiles");

    var groups = data.groups || [];
    var actorKinds = data.actorKinds || {};
    var relKinds = data.relationKinds || [];
    var levels = {};
    (data.levels || []).forEach(function (lv) { levels[lv.value] = lv; });
    var oppTypes = data.opportunityTypes || [];
    var cols = decode(data);
    mark("decode");
    var props = cols.props, rels = cols.rels;
    var N = props.length, R = rels.length;
    var baselineText = itDate(data.baseline);
    var timeline = timelineOf(data, N, rels);
    var dateIdx = timeline.current;
    var hashDate = /(?:^#|&)data=(\d{4}-\d{2}-\d{2})/.exec(global.location.hash || "");
    if (hashDate && timeline.dates.indexOf(hashDate[1]) >= 0) {
      dateIdx = timeline.dates.indexOf(hashDate[1]);
    }
    var activeNow = timeline.actors(dateIdx), levelNow = timeline.levels(dateIdx);
    for (var r0 = 0; r0 < R; r0++) { rels[r0][3] = levelNow[r0]; }
    var filterCode = "";

    // the view first, so that every layer is projected once
    if (data.bounds) { map.fitBounds(data.bounds, { padding: [10, 10], animate: false }); }

    // ---- boundaries
    var boundaries = addBoundaries(map, data, noTiles);
    if (boundaries.comuni) { boundaries.comuni.addTo(map); }
    if (boundaries.province) { boundaries.province.addTo(map); }
    if (boundaries.ambiti) { boundaries.ambiti.addTo(map); }

    mark("boundaries");
    // ---- actors
    var rMarkers = L.canvas({ pane: pane(map, "omMarkers", 420) });
    var latlngs = cols.latlngs, world = cols.world, markers = new Array(N);
    var visible = new Array(N), offers = new Array(N), adjacency = new Array(N);
    /* canvas markers are made when first shown (clustered, most never are) */
    function markerOf(k) {
      var mk = markers[k];
      if (!mk) {
        var group = groups[props[k].g] || { shape: "circle", color: "#777777" };
        mk = markers[k] = new ShapeMarker(latlngs[k],
          L.extend({ renderer: rMarkers }, markerStyle(group, !!props[k].x)));
        mk.omIndex = k;
      }
      if (bySize) { mk.setRadius(degreeRadius(k)); }
      else if (mk._radius !== 6.5) { mk.setRadius(6.5); }
      return mk;
    }
    /* optional: markers sized by degree (number of ties at the date shown) */
    var bySize = false;
    function degreeRadius(k) {
      var d = 0, adj = adjacency[k];
      for (var q = 0; q < adj.length; q++) { if (rels[adj[q]][3]) { d += 1; } }
      return 5 + 2.2 * Math.sqrt(d);
    }
    for (var i = 0; i < N; i++) {
      visible[i] = !!activeNow[i];
      offers[i] = {};
      var po = props[i].o;
      if (po) { for (var oi = 0; oi < po.length; oi++) { offers[i][po[oi][0]] = true; } }
      adjacency[i] = [];
    }
    for (var r = 0; r < R; r++) {
      adjacency[rels[r][0]].push(r);
      adjacency[rels[r][1]].push(r);
    }

    var clustered = options.cluster !== false;
    var groupLayers = groups.map(function (g) {
      var container = L.layerGroup();
      var flat = L.featureGroup();
      var cluster = new GridCluster(world, markerOf, g.color, listMembers, rMarkers);
      [flat, cluster].forEach(function (layer) {
        layer.on("click", onMarkerClick);
        layer.on("mouseover", onMarkerOver);
        layer.on("mouseout", onMarkerOut);
      });
      return { group: g, container: container, flat: flat, cluster: cluster, members: [] };
    });
    for (i = 0; i < N; i++) {
      if (groupLayers[props[i].g]) { groupLayers[props[i].g].members.push(i); }
    }
    function fillGroups() {
      groupLayers.forEach(function (gl) {
        var inner = clustered ? gl.cluster : gl.flat;
        gl.container.clearLayers();
        gl.flat.clearLayers();
        var list = [];
        gl.members.forEach(function (k) { if (visible[k]) { list.push(k); } });
        gl.cluster.setMembers(clustered ? list : []);
        if (!clustered) { list.forEach(function (k) { gl.flat.addLayer(markerOf(k)); }); }
        gl.container.addLayer(inner);
      });
    }
    mark("markers");
    fillGroups();
    mark("clusters");
    groupLayers.forEach(function (gl) { gl.container.addTo(map); });
    mark("markersOnMap");

    // ---- relations
    // Lines are opaque on a translucent pane: blending once is much cheaper than
    // blending every stroke, and crossings stay readable.
    var rLines = L.canvas({ pane: pane(map, "omLines", 380) });
    map.getPane("omLines").style.opacity = "0.6";
    var relLayer = L.layerGroup(), newLayer = L.layerGroup();
    var shownRelations = 0, shownTies = [];
    function buildRelations() {
      relLayer.clearLayers();
      newLayer.clearLayers();
      var counts = {}, keys = [], nFresh = 0, k, rel, key;
      shownRelations = 0;
      var shown = new Uint8Array(R);
      var shownList = [];
      for (k = 0; k < R; k++) {
        rel = rels[k];
        if (!rel[3] || !visible[rel[0]] || !visible[rel[1]]) { continue; }
        shown[k] = 1;
        shownList.push(k);
        key = (rel[2] + 1) * 64 + rel[3];
        if (!counts[key]) { counts[key] = 0; keys.push(key); }
        counts[key] += 1;
        if (rel[5] && freshNow()) { nFresh += 1; }
        shownRelations += 1;
      }
      shownTies = shownList;
      var pairs = {}, fill = {}, fresh = new Int32Array(nFresh * 2), f = 0;
      keys.forEach(function (kk) { pairs[kk] = new Int32Array(counts[kk] * 2); fill[kk] = 0; });
      for (k = 0; k < R; k++) {
        if (!shown[k]) { continue; }
        rel = rels[k];
        key = (rel[2] + 1) * 64 + rel[3];
        var arr = pairs[key], at = fill[key];
        arr[at] = rel[0]; arr[at + 1] = rel[1]; fill[key] = at + 2;
        if (rel[5] && freshNow()) { fresh[f] = rel[0]; fresh[f + 1] = rel[1]; f += 2; }
      }
      var factor = lineFactor();
      keys.forEach(function (kk) {
        var kind = relKinds[Math.floor(kk / 64) - 1] || { color: "#777777" };
        var level = levels[kk % 64] || { weight: 1.5 };
        var line = new TieSegments(world, pairs[kk], {
          renderer: rLines, color: safeColor(kind.color),
          weight: level.weight * factor, opacity: 1
        });
        line.omWeight = level.weight;
        line.addTo(relLayer);
      });
      if (nFresh) {
        var halo = new TieSegments(world, fresh, {
          renderer: rLines, color: "#ffc400", weight: HALO * factor, opacity: 1, omCasing: true
        });
        halo.omWeight = HALO;
        halo.addTo(newLayer);
      }
    }
    /* highlights of ties (new since the baseline, new since the previous Tavolo)
       lie under the ties, on the same canvas */
    function orderLines() {
      [newLayer, changeLines].forEach(function (group) {
        if (map.hasLayer(group)) { group.eachLayer(function (line) { line.bringToBack(); }); }
      });
    }
    /* ties new since the baseline are highlighted at dates after it */
    function freshNow() {
      return !!data.baseline && timeline.dates[dateIdx] > data.baseline;
    }
    /* Thousands of thick lines are slow to paint and unreadable when zoomed out:
       with many ties the lines are thinner (same proportions) until zoom 12. */
    var HALO = 6;
    function lineFactor() {
      return shownRelations > DENSE_LINES && map.getZoom() < 12 ? 0.45 : 1;
    }
    var DENSE_LINES = 3000, lastFactor = null;
    function restyleLines() {
      var factor = lineFactor();
      if (factor === lastFactor) { return; }
      lastFactor = factor;
      [relLayer, newLayer, changeLines].forEach(function (group) {
        group.eachLayer(function (line) { line.setStyle({ weight: line.omWeight * factor }); });
      });
    }
    map.on("zoomend", restyleLines);
    var changeLines = L.layerGroup();
    buildRelations();
    // the highlight of new ties is drawn under the lines (same canvas)
    newLayer.on("add", function () {
      newLayer.eachLayer(function (halo) { halo.bringToBack(); });
    });
    relLayer.addTo(map);
    if (data.baseline) { newLayer.addTo(map); }
    mark("relations");

    // ---- tooltips and popups
    var hoverTip = L.tooltip({ direction: "top", offset: [0, -8], className: "om-tip" });
    function onMarkerOver(e) {
      var k = e.layer && e.layer.omIndex;
      if (k === undefined) { return; }
      hoverTip.setLatLng(latlngs[k]).setContent(el("span", null, props[k].n));
      map.openTooltip(hoverTip);
    }
    function onMarkerOut() { map.closeTooltip(hoverTip); }
    var lastLayerClick = -Infinity;
    function onMarkerClick(e) {
      lastLayerClick = now();
      var k = e.layer && e.layer.omIndex;
      if (k !== undefined) { openActor(k); }
    }
    var popup = L.popup({ maxWidth: 380, minWidth: 260, maxHeight: 380, className: "om-popup",
                          autoPanPadding: [30, 30] });

    function groupOf(k) { return groups[props[k].g] || { label: "", color: "#777777" }; }
    function dlRow(dl, label, value) {
      if (value === undefined || value === null || value === "") { return; }
      add(dl, el("dt", null, label));
      var dd = add(dl, el("dd"));
      if (typeof value === "object") { dd.appendChild(value); }
      else { dd.textContent = String(value); }
    }
    function buildPopup(k) {
      var p = props[k], g = groupOf(k);
      var box = el("div", "om-pop");
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", "Scheda: " + p.n);
      var head = add(box, el("div", "om-pop-head"));
      add(head, symbolNode(g.shape, g.color, !!p.x));
      var h = add(head, el("h3", null, p.n));
      h.tabIndex = -1;
      var toList = add(box, el("button", "om-link om-to-list", "Mostra nell'elenco"));
      toList.type = "button";
      toList.addEventListener("click", function (ev) { ev.stopPropagation(); showInList(k); });
      add(box, el("div", "om-pop-kind",
        (actorKinds[p.k] !== undefined ? actorKinds[p.k] : p.k) + " · " + g.label));
      if (p.x) {
        add(box, el("div", "om-approx",
          "Posizione approssimata (comune): il punto è nel comune, non all'indirizzo."));
      }
      var dl = add(box, el("dl", "om-fields"));
      dlRow(dl, "Comune", p.c);
      dlRow(dl, "Indirizzo", p.a);
      if (p.w) { dlRow(dl, "Sito web", textOrLink(p.w, p.wh)); }
      if (p.e) { dlRow(dl, "E-mail", textOrLink(p.e, p.eh)); }
      dlRow(dl, "Telefono", p.p);
      dlRow(dl, "Note", p.t);
      dlRow(dl, "Codice", p.id);

      var opps = p.o || [];
      add(box, el("h4", null, "Opportunità offerte (" + opps.length + ")" +
        (dateIdx === timeline.current ? "" : " al " + itDate(data.asOf))));
      if (!opps.length) {
        add(box, el("p", "om-empty", "Nessuna opportunità registrata."));
      } else {
        var ul = add(box, el("ul", "om-list om-opps"));
        opps.forEach(function (o) {
          var li = add(ul, el("li"));
          var type = oppTypes[o[0]] || { label: "" };
          add(li, el("strong", null, type.label));
          if (o[1]) { add(li, document.createTextNode(": " + o[1])); }
          var extra = [];
          if (o[2] !== null && o[2] !== undefined) { extra.push("posti: " + o[2]); }
          if (o[3]) { extra.push("destinatari: " + o[3]); }
          if (o[4]) { extra.push("note: " + o[4]); }
          if (extra.length) { add(li, el("div", "om-sub", extra.join(" · "))); }
        });
      }

      var ties = adjacency[k].filter(function (ri) { return rels[ri][3] > 0; });
      if (!activeNow[k]) {
        add(box, el("div", "om-approx", "Non presente al " + itDate(timeline.dates[dateIdx]) +
          " (data mostrata)."));
      }
      var degreeNow = dateIdx === timeline.current ? (p.d || 0) : ties.length;
      add(box, el("h4", null, "Legami (" + ties.length + ") · grado " + degreeNow));
      if (!ties.length) {
        add(box, el("p", "om-empty",
          "Nessun legame registrato con organizzazioni della mappa."));
      } else {
        ties.sort(function (a, b) {
          return (rels[b][3] - rels[a][3]) ||
            String(props[other(a, k)].n).localeCompare(String(props[other(b, k)].n), "it");
        });
        var tl = add(box, el("ul", "om-list om-ties"));
        ties.slice(0, 150).forEach(function (ri) {
          var rel = rels[ri], j = other(ri, k);
          var kind = relKinds[rel[2]] || { label: "", color: "#777777" };
          var lv = levels[rel[3]] || { label: "" };
          var li = add(tl, el("li"));
          add(li, lineNode(kind.color, Math.min(lv.weight || 2, 5)));
          var btn = add(li, el("button", "om-link", props[j].n));
          btn.type = "button";
          // the popup is replaced before the click reaches the map: not a map click
          btn.addEventListener("click", function (ev) { ev.stopPropagation(); focusActor(j); });
          // a tie gathers every active relation of the pair: list their kinds
          var kindLabels = (rel[7] || [rel[2]]).map(function (c) {
            return (relKinds[c] || { label: "" }).label;
          });
          var bits = kindLabels.join(", ") + "; livello " + rel[3] +
            (lv.label ? " (" + lv.label + ")" : "");
          if (rel[4] !== null && rel[4] !== undefined) { bits += ", dal " + dayDate(rel[4]); }
          if (rel[8] > 1) { bits += " · " + rel[8] + " relazioni"; }
          add(li, el("div", "om-sub", bits));
          if (rel[5] && freshNow()) {
            add(li, el("span", "om-new", "nuovo dal " + baselineText));
          }
          if (rel[6]) { add(li, el("div", "om-sub", "Note: " + rel[6])); }
        });
        if (ties.length > 150) {
          add(box, el("p", "om-empty", (ties.length - 150 === 1 ? "… e un altro legame." : "… e altri " + (ties.length - 150) + " legami.")));
        }
      }
      return box;
    }
    function other(ri, k) { return rels[ri][0] === k ? rels[ri][1] : rels[ri][0]; }
    function openActor(k) {
      popup.setLatLng(latlngs[k]).setContent(buildPopup(k)).openOn(map);
      focusEgo(k);
    }

    // ---- ties: hover and click on the canvas (hit-testing, throttled)
    /* The tie drawn nearest to a container point, within tol pixels, away from the
       organisations at its ends (their markers take those clicks); -1 if none. */
    function nearestTie(cp, tol) {
      if (!map.hasLayer(relLayer) || !shownTies.length) { return -1; }
      var lp = map.containerPointToLayerPoint(cp), o = map.getPixelOrigin();
      var s = 256 * Math.pow(2, map.getZoom()), px = lp.x + o.x, py = lp.y + o.y;
      var wx = world.x, wy = world.y, best = -1, bestD = tol * tol;
      for (var q = 0; q < shownTies.length; q++) {
        var rel = rels[shownTies[q]];
        var ax = wx[rel[0]] * s, ay = wy[rel[0]] * s, bx = wx[rel[1]] * s, by = wy[rel[1]] * s;
        if ((px < ax - tol && px < bx - tol) || (px > ax + tol && px > bx + tol) ||
            (py < ay - tol && py < by - tol) || (py > ay + tol && py > by + tol)) { continue; }
        var dx = bx - ax, dy = by - ay, l2 = dx * dx + dy * dy;
        if (!l2) { continue; }
        var t = ((px - ax) * dx + (py - ay) * dy) / l2;
        var len = Math.sqrt(l2);
        if (t * len < 8 || (1 - t) * len < 8) { continue; }
        var ex = ax + t * dx - px, ey = ay + t * dy - py, d = ex * ex + ey * ey;
        if (d <= bestD) { bestD = d; best = shownTies[q]; }
      }
      return best;
    }
    function tieInfo(ri, full) {
      var rel = rels[ri], box = el("div", full ? "om-pop om-tie-pop" : "om-tie-tip");
      var kind = relKinds[rel[2]] || { label: "", color: "#777777" };
      var lv = levels[rel[3]] || { label: "" };
      if (full) {
        box.setAttribute("role", "dialog");
        box.setAttribute("aria-label", "Legame");
      }
      add(box, el(full ? "h3" : "strong", null, "Legame"));
      var names = add(box, el("div", "om-tie-names"));
      [rel[0], rel[1]].forEach(function (k, q) {
        if (q) { add(names, document.createTextNode(" — ")); }
        if (full) {
          var b = add(names, el("button", "om-link", props[k].n));
          b.type = "button";
          b.addEventListener("click", function (ev) { ev.stopPropagation(); focusActor(k); });
        } else {
          add(names, el("span", null, props[k].n));
        }
      });
      var dl = add(box, el("dl", "om-fields"));
      var kindLabels = (rel[7] || [rel[2]]).map(function (c) {
        return (relKinds[c] || { label: "" }).label;
      });
      dlRow(dl, kindLabels.length === 1 ? "Tipo" : "Tipi", kindLabels.join(", "));
      dlRow(dl, "Livello", rel[3] + (lv.label ? " (" + lv.label + ")" : ""));
      if (rel[4] !== null && rel[4] !== undefined) { dlRow(dl, "Dal", dayDate(rel[4])); }
      if (rel[8] > 1) { dlRow(dl, "Relazioni", String(rel[8])); }
      if (rel[5] && freshNow()) { add(box, el("span", "om-new", "nuovo dal " + baselineText)); }
      if (full && rel[6]) { dlRow(dl, "Note", rel[6]); }
      return box;
    }
    var tieTip = L.tooltip({ direction: "top", offset: [0, -6], className: "om-tip" });
    var tieFrame = null, tieHover = -1;
    function tieOut() {
      if (tieHover >= 0) { map.closeTooltip(tieTip); tieHover = -1; }
      map.getContainer().classList.remove("om-on-tie");
    }
    map.on("mousemove", function (e) {
      if (tieFrame) { return; }
      var cp = e.containerPoint;
      tieFrame = global.requestAnimationFrame(function () {
        tieFrame = null;
        var ri = nearestTie(cp, 5);
        if (ri < 0) { tieOut(); return; }
        map.getContainer().classList.add("om-on-tie");
        tieTip.setLatLng(map.containerPointToLatLng(cp));
        if (ri !== tieHover) { tieTip.setContent(tieInfo(ri, false)); }
        if (!map.hasLayer(tieTip)) { map.openTooltip(tieTip); }
        tieHover = ri;
      });
    });
    map.on("mouseout", tieOut);
    map.on("click", function (e) {
      if (now() - lastLayerClick < 400) { return; }
      var ri = nearestTie(e.containerPoint, 6);
      if (ri < 0) { return; }
      tieOut();
      popup.setLatLng(e.latlng).setContent(tieInfo(ri, true)).openOn(map);
    });

    // ---- ego-network: the ties of one organisation highlighted, the others dimmed
    var egoLayer = L.layerGroup(), rEgo = null, egoBar = null, egoText = null;
    function focusEgo(k) {
      if (!rEgo) { rEgo = L.canvas({ pane: pane(map, "omEgo", 410) }); }
      egoLayer.clearLayers();
      var byKind = {}, kinds = [], n = 0;
      adjacency[k].forEach(function (ri) {
        var rel = rels[ri];
        if (!rel[3] || !visible[rel[0]] || !visible[rel[1]]) { return; }
        if (!byKind[rel[2]]) { byKind[rel[2]] = []; kinds.push(rel[2]); }
        byKind[rel[2]].push(rel[0], rel[1]);
        n += 1;
      });
      kinds.forEach(function (c) {
        new TieSegments(world, Int32Array.from(byKind[c]), {
          renderer: rEgo, color: safeColor((relKinds[c] || {}).color), weight: 4, opacity: 1
        }).addTo(egoLayer);
      });
      if (!map.hasLayer(egoLayer)) { egoLayer.addTo(map); }
      map.getPane("omLines").style.opacity = "0.15";
      if (egoBar) {
        egoText.textContent = "In evidenza: " + plural(n, "legame", "legami") + " di " +
          props[k].n + ".";
        egoBar.hidden = false;
      }
    }
    function clearEgo() {
      egoLayer.clearLayers();
      if (map.hasLayer(egoLayer)) { map.removeLayer(egoLayer); }
      map.getPane("omLines").style.opacity = "0.6";
      if (egoBar) { egoBar.hidden = true; }
    }
    /* A cluster that zooming cannot split (same point, or deepest zoom): its
       organisations as a list of buttons in a popup. */
    function listMembers(members, center) {
      var box = el("div", "om-pop");
      add(box, el("h3", null, members.length + " organizzazioni in questo punto"));
      var ul = add(box, el("ul", "om-list om-members"));
      members.slice().sort(function (a, b) {
        return String(props[a].n).localeCompare(String(props[b].n), "it");
      }).forEach(function (k) {
        var li = add(ul, el("li"));
        add(li, symbolNode(groupOf(k).shape, groupOf(k).color, !!props[k].x));
        var btn = add(li, el("button", "om-link", props[k].n));
        btn.type = "button";
        // the list is replaced by the popup of k before the click reaches the map,
        // which would then take it for a click on the map and close the popup
        btn.addEventListener("click", function (ev) { ev.stopPropagation(); openActor(k); });
      });
      popup.setLatLng(center).setContent(box).openOn(map);
    }
    function focusActor(k) {
      if (!visible[k] && activeNow[k]) { setFilter(""); }
      var gl = groupLayers[props[k].g];
      if (gl && !map.hasLayer(gl.container)) { gl.container.addTo(map); }
      var top = isFinite(map.getMaxZoom()) ? map.getMaxZoom() : 18;
      var zoom = Math.min(Math.max(map.getZoom(), 12), top);
      if (gl && clustered) {
        // zoom in until the organisation is out of its cluster (or as far as possible)
        while (zoom < top && !gl.cluster.aloneAt(k, Math.round(zoom))) { zoom += 1; }
      }
      map.setView(latlngs[k], Math.min(zoom, top), { animate: false });
      openActor(k);
    }

    // ---- filter and search
    var filterSelect, statusLine, resultsList, searchInput, clusterBox;
    function setFilter(code) {
      filterCode = code;
      for (var k = 0; k < N; k++) {
        visible[k] = !!activeNow[k] && (code === "" || !!offers[k][code]);
      }
      if (filterSelect) { filterSelect.value = code; }
      map.closePopup(popup);
      clearEgo();
      fillGroups();
      buildRelations();
      orderLines();
      updateStatus();
    }
    function actorsAtDate() {
      var n = 0;
      for (var k = 0; k < N; k++) { if (activeNow[k]) { n += 1; } }
      return n;
    }
    function tiesAtDate() {
      var n = 0;
      for (var r = 0; r < R; r++) { if (rels[r][3]) { n += 1; } }
      return n;
    }
    function updateStatus() {
      updateLayerCounts();
      if (!statusLine) { return; }
      var n = 0;
      for (var k = 0; k < N; k++) { if (visible[k]) { n += 1; } }
      var type = filterCode === "" ? null : oppTypes[+filterCode];
      statusLine.textContent = "Visibili: " + plural(n, "organizzazione", "organizzazioni") +
        " su " + actorsAtDate() + (type ? " (solo chi offre " + type.label + ")" : "") +
        ", " + plural(shownRelations, "legame", "legami") + " su " + tiesAtDate() + ".";
      fillList();
    }
    /* The view fitted to the organisations shown (the territory without a filter). */
    function fitShown() {
      var pts = [];
      for (var k = 0; k < N; k++) { if (visible[k]) { pts.push(latlngs[k]); } }
      if (filterCode === "" || !pts.length) {
        if (data.bounds) { map.fitBounds(data.bounds, { padding: [10, 10], animate: false }); }
        return;
      }
      map.fitBounds(L.latLngBounds(pts), { padding: [40, 40], maxZoom: 13, animate: false });
    }
    /* Show the network at the d-th date of the timeline: organisations, ties,
       summary, changes; the figures come from the payload. */
    function setDate(d) {
      if (!timeline.dates[d]) { return; }
      dateIdx = d;
      activeNow = timeline.actors(d);
      levelNow = timeline.levels(d);
      for (var r = 0; r < R; r++) { rels[r][3] = levelNow[r]; }
      if (dateSelect) { dateSelect.value = String(d); }
      setFilter(filterCode);
      fillSummary();
      updateLayerCounts();
      if (map.hasLayer(changeLayer)) { buildChanges(); }
      updateChangesLegend();
      if (timeline.dates.length > 1 && global.history && global.history.replaceState) {
        try {
          global.history.replaceState(null, "", "#data=" + timeline.dates[d]);
        } catch (e) { /* a page opened from some viewers cannot change its URL */ }
      }
    }
    /* Search: organisations by name or comune, and every comune of the territory
       (with or without organisations), forgiving as the loader is ("S. Omobono",
       "cantu'", any case, accents). */
    var folded = null;
    function search(query) {
      var q = fold(query).trim(), qk = comuneKey(query);
      var hits = [];
      if (q.length < 2) { return hits; }
      if (!folded) {
        folded = props.map(function (p) {
          return [fold(p.n), fold(p.c), comuneKey(p.n), comuneKey(p.c)];
        });
      }
      for (var k = 0; k < N; k++) {
        var f = folded[k], a = f[0].indexOf(q), b = f[1].indexOf(q);
        if (a < 0 && qk) { a = f[2].indexOf(qk); }
        if (b < 0 && qk) { b = f[3].indexOf(qk); }
        if (a >= 0 || b >= 0) { hits.push([a === 0 ? 0 : a > 0 ? 1 : b === 0 ? 2 : 3, k]); }
      }
      hits.sort(function (x, y) {
        return x[0] - y[0] || String(props[x[1]].n).localeCompare(String(props[y[1]].n), "it");
      });
      return hits.map(function (h) { return h[1]; });
    }
    /* Comuni of the territory whose key contains the typed key: exact first, then
       those starting with it, then the others (alphabetical). */
    function searchComuni(query) {
      var qk = comuneKey(query), C = comuniData(), out = [];
      if (qk.length < 2) { return out; }
      for (var c = 0; c < C.n; c++) {
        var at = C.key[c].indexOf(qk);
        if (at >= 0) { out.push([C.key[c] === qk ? 0 : at === 0 ? 1 : 2, c]); }
      }
      out.sort(function (x, y) { return x[0] - y[0] || C.key[x[1]].localeCompare(C.key[y[1]]); });
      return out;
    }
    function showResults(query) {
      resultsList.textContent = "";
      var hits = search(query), places = searchComuni(query), found = [];
      if (fold(query).trim().length < 2) { resultsList.hidden = true; return found; }
      resultsList.hidden = false;
      // an exact comune first, then organisations, then the other comuni
      places.forEach(function (pl) { if (pl[0] === 0) { found.push(["c", pl[1]]); } });
      hits.forEach(function (k) { found.push(["a", k]); });
      places.forEach(function (pl) { if (pl[0] > 0) { found.push(["c", pl[1]]); } });
      if (!found.length) {
        add(resultsList, el("li", "om-empty", "Nessun risultato."));
        return found;
      }
      var C = comuniData();
      found.slice(0, 20).forEach(function (hit) {
        var li = add(resultsList, el("li", "om-result"));
        var btn = add(li, el("button", "om-link"));
        btn.type = "button";
        if (hit[0] === "c") {
          li.className = "om-result om-result-comune";
          var n = actorsInComune(hit[1]).length;
          add(btn, el("strong", "om-result-name", C.name[hit[1]]));
          add(btn, el("span", "om-sub", "Comune · " + (n ? plural(n, "organizzazione",
            "organizzazioni") : "nessuna organizzazione della mappa")));
          btn.addEventListener("click", function () { showComune(hit[1]); });
          return;
        }
        var k = hit[1];
        add(btn, el("strong", "om-result-name", props[k].n));
        add(btn, el("span", "om-sub", (props[k].c || "") + " · " + groupOf(k).label +
          (!activeNow[k] ? " (non presente al " + itDate(timeline.dates[dateIdx]) + ")"
            : visible[k] ? "" : " (nascosta dal filtro)")));
        btn.addEventListener("click", function () { focusActor(k); });
      });
      if (found.length > 20) {
        add(resultsList,
          el("li", "om-empty", "… altri " + (found.length - 20) + " risultati."));
      }
      return found;
    }

    var dateSelect = null, leftPanels = [];
    var tools = panelControl("topleft", function () {
      var box = el("div", "om-panel om-tools");
      if (timeline.dates.length > 1) {
        var dlab = add(box, el("label", "om-label", "Data del Tavolo"));
        dateSelect = add(dlab, el("select", "om-date"));
        timeline.dates.forEach(function (iso, d) {
          var opt = add(dateSelect, el("option", null, itDate(iso) +
            (d === timeline.current ? " (data della mappa)" : "")));
          opt.value = String(d);
        });
        dateSelect.value = String(dateIdx);
        dateSelect.addEventListener("change", function () { setDate(+dateSelect.value); });
      }
      var lab = add(box, el("label", "om-label", "Cerca un'organizzazione o un comune"));
      searchInput = add(box, el("input", "om-search"));
      searchInput.type = "search";
      searchInput.placeholder = "Nome o comune…";
      searchInput.setAttribute("aria-label", "Cerca per nome o comune");
      lab.appendChild(searchInput);
      resultsList = add(box, el("ul", "om-results"));
      resultsList.hidden = true;
      var timer = null;
      searchInput.addEventListener("input", function () {
        global.clearTimeout(timer);
        timer = global.setTimeout(function () { showResults(searchInput.value); fillList(); },
          120);
      });
      searchInput.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter") {
          var hits = showResults(searchInput.value);
          if (hits.length && hits[0][0] === "c") { showComune(hits[0][1]); }
          else if (hits.length) { focusActor(hits[0][1]); }
        } else if (ev.key === "Escape") {
          searchInput.value = ""; showResults("");
        }
      });
      var flab = add(box, el("label", "om-label", "Mostra solo chi offre"));
      filterSelect = add(flab, el("select", "om-filter"));
      filterSelect.setAttribute("aria-label", "Filtra per tipo di opportunità");
      var all = add(filterSelect, el("option", null, "Tutte le organizzazioni"));
      all.value = "";
      oppTypes.forEach(function (t, k) {
        if (!t.count) { return; }
        var opt = add(filterSelect, el("option", null, t.label + " (" + t.count + ")"));
        opt.value = String(k);
      });
      filterSelect.addEventListener("change", function () {
        setFilter(filterSelect.value);
        fitShown();
      });
      var clab = add(box, el("label", "om-check"));
      clusterBox = add(clab, el("input"));
      clusterBox.type = "checkbox";
      clusterBox.checked = clustered;
      add(clab, document.createTextNode(" Raggruppa le organizzazioni vicine"));
      clusterBox.addEventListener("change", function () {
        clustered = clusterBox.checked;
        map.closePopup(popup);
        fillGroups();
      });
      var slab = add(box, el("label", "om-check"));
      var sizeBox = add(slab, el("input"));
      sizeBox.type = "checkbox";
      add(slab, document.createTextNode(" Dimensione secondo il numero di legami"));
      sizeBox.addEventListener("change", function () {
        bySize = sizeBox.checked;
        fillGroups();
        markers.forEach(function (mk, k) { if (mk) { markerOf(k); } });
      });
      statusLine = add(box, el("div", "om-status"));
      statusLine.setAttribute("role", "status");
      egoBar = add(box, el("div", "om-ego"));
      egoBar.hidden = true;
      egoText = add(egoBar, el("span", "om-sub om-inline"));
      var clearBtn = add(egoBar, el("button", "om-button om-small", "Mostra tutti i legami"));
      clearBtn.type = "button";
      clearBtn.addEventListener("click", clearEgo);
      updateStatus();
      if (!narrow) { return box; }
      // on a phone the tools are one panel of the drawer, like the others
      var wrap = collapsible("om-tools-drawer", "Cerca e filtri", false);
      box.classList.add("om-tools-inner");
      add(wrap, box);
      leftPanel(wrap);
      return wrap;
    });
    tools.addTo(map);

    // ---- the left column: one panel open at a time (a drawer on a phone)
    function leftPanel(box) {
      leftPanels.push(box);
      box.addEventListener("toggle", function () {
        if (!box.open) { return; }
        leftPanels.forEach(function (other) {
          if (other !== box && other.open && (narrow || !other.classList.contains("om-tools-drawer"))) {
            other.open = false;
          }
        });
      });
      return box;
    }

    // ---- "Elenco": the organisations shown, as a list (built when first opened)
    var listBox = null, listBody = null, listItems = {}, lastOpener = null;
    /* what the list shows: the organisations visible on the map (date, type
       filter), narrowed by the search when one is typed */
    function listShown() {
      var q = searchInput ? searchInput.value : "", ks = [], k;
      if (fold(q).trim().length >= 2) {
        return search(q).filter(function (j) { return visible[j]; });
      }
      for (k = 0; k < N; k++) { if (visible[k]) { ks.push(k); } }
      ks.sort(function (a, b) { return String(props[a].n).localeCompare(String(props[b].n), "it"); });
      return ks;
    }
    function fillList() {
      if (!listBox || !listBox.open) { return; }
      listBody.textContent = "";
      listItems = {};
      var ks = listShown(), q = searchInput ? searchInput.value.trim() : "";
      var type = filterCode === "" ? null : oppTypes[+filterCode];
      var head = add(listBody, el("p", "om-list-status", "Nell'elenco: " +
        plural(ks.length, "organizzazione", "organizzazioni") +
        (type ? " (solo chi offre " + type.label + ")" : "") +
        (fold(q).length >= 2 ? " che corrispondono a «" + q + "»" : "") + "."));
      head.setAttribute("role", "status");
      groups.forEach(function (g, gi) {
        var mine = ks.filter(function (k) { return props[k].g === gi; });
        if (!mine.length) { return; }
        var gl = groupLayers[gi];
        var h = add(listBody, el("h2", "om-list-group"));
        add(h, symbolNode(g.shape, g.color, false));
        add(h, document.createTextNode(" " + g.label + " (" + mine.length + ")"));
        if (gl && !map.hasLayer(gl.container)) {
          add(listBody, el("p", "om-sub", "Gruppo nascosto sulla mappa (controllo dei livelli)."));
        }
        var ul = add(listBody, el("ul", "om-elenco"));
        mine.forEach(function (k) {
          var p = props[k], li = add(ul, el("li"));
          var btn = add(li, el("button", "om-link om-elenco-item", p.n));
          btn.type = "button";
          btn.addEventListener("click", function () { openFromList(k, btn); });
          listItems[k] = btn;
          var opps = (p.o || []).map(function (o) {
            return (oppTypes[o[0]] || { label: "" }).label + (o[1] ? ": " + o[1] : "");
          });
          add(li, el("span", "om-sub", (p.c || "") + (p.x ? " (posizione approssimata)" : "") +
            " · " + (opps.length ? "offre " + opps.join("; ") : "nessuna opportunità registrata")));
        });
      });
    }
    function openFromList(k, btn) {
      lastOpener = btn;
      focusActor(k);
      var pe = popup.getElement(), h = pe && pe.querySelector("h3");
      if (h) { h.focus({ preventScroll: true }); }
    }
    function openList() {
      if (!listBox.open) { listBox.open = true; }
      fillList();
    }
    function showInList(k) {
      if (!visible[k]) { setFilter(""); }
      if (searchInput && searchInput.value) { searchInput.value = ""; showResults(""); }
      openList();
      fillList();
      var btn = listItems[k];
      if (btn) {
        btn.scrollIntoView({ block: "nearest" });
        btn.focus();
        lastOpener = btn;
      }
    }
    document.addEventListener("keydown", function (ev) {
      if (ev.key !== "Escape" || ev.defaultPrevented || !map.hasLayer(popup)) { return; }
      var pe = popup.getElement(), active = document.activeElement;
      if (!(pe && pe.contains(active)) && active !== map.getContainer() &&
          active !== document.body && !(listBox && listBox.contains(active))) { return; }
      map.closePopup(popup);
      if (lastOpener && document.body.contains(lastOpener)) { lastOpener.focus(); }
    });
    map.on("overlayadd overlayremove", function () { fillList(); });

    // ---- comuni of the territory (all of them), the finder and the coverage layer
    /* The payload's comuni, decoded on first use: name, key (comune_key computed
       in Python), reference point, and lookups by key and ISTAT code. */
    var comuniCache = null;
    function comuniData() {
      if (comuniCache) { return comuniCache; }
      var D = data.comuni || {}, codes = D.code || [], n = codes.length;
      var sc = data.coordScale || 100000, names = D.name || [];
      var keys = D.key && D.key.length === n ? D.key : names.map(comuneKey);
      var byKey = {}, byCode = {}, lat = new Float64Array(n), lon = new Float64Array(n);
      for (var c = 0; c < n; c++) {
        (byKey[keys[c]] || (byKey[keys[c]] = [])).push(c);
        byCode[codes[c]] = c;
        lat[c] = (D.lat || [])[c] / sc;
        lon[c] = (D.lon || [])[c] / sc;
      }
      comuniCache = { n: n, code: codes, name: names, key: keys, lat: lat, lon: lon,
                      byKey: byKey, byCode: byCode, province: String(D.province || "") };
      return comuniCache;
    }
    var actorComuneKeys = null;
    /* The organisations (active at the date shown) whose comune is the c-th. */
    function actorsInComune(c) {
      if (!actorComuneKeys) { actorComuneKeys = props.map(function (p) { return comuneKey(p.c); }); }
      var key = comuniData().key[c], out = [];
      for (var k = 0; k < N; k++) { if (activeNow[k] && actorComuneKeys[k] === key) { out.push(k); } }
      return out;
    }
    /* A comune as typed, matched as geography.match_comune does within the
       territory: {row}, or {outside: sigla}, {ambiguous: rows}, {suggestions: rows}. */
    function matchComune(text) {
      var C = comuniData(), t = String(text || "").trim();
      if (/^[0-9]+$/.test(t)) {
        return C.byCode[+t] === undefined ? { suggestions: [] } : { row: C.byCode[+t] };
      }
      var prov = /^(.*?)\s*\(\s*([A-Za-z]{2})\s*\)\s*$/.exec(t);
      if (prov) {
        if (C.province && prov[2].toUpperCase() !== C.province) {
          return { outside: prov[2].toUpperCase() };
        }
        t = prov[1];
      }
      var rows = C.byKey[comuneKey(t)] || [];
      if (rows.length === 1) { return { row: rows[0] }; }
      if (rows.length > 1) { return { ambiguous: rows }; }
      var near = searchComuni(t).map(function (h) { return h[1]; });
      var key = comuneKey(t);
      if (!near.length && key.length >= 3) {
        for (var c = 0; c < C.n && near.length < 5; c++) {
          if (C.key[c].slice(0, 3) === key.slice(0, 3)) { near.push(c); }
        }
      }
      return { suggestions: near.slice(0, 5) };
    }
    /* The active opportunities of the territory's organisations, nearest first
       (distance, then opportunity id: the order of finder.find_opportunities; the
       payload's rows are in id order). */
    function nearest(row, types) {
      var O = data.opportunities || {}, oa = O.actor || [], ot = O.type || [];
      var here = timeline.actors(timeline.current), C = comuniData();
      var want = null, out = [];
      if (types && types.length) {
        want = {};
        types.forEach(function (t) { want[t] = true; });
      }
      for (var o = 0; o < oa.length; o++) {
        var k = oa[o];
        if (!props[k] || !here[k] || (want && !want[ot[o]])) { continue; }
        out.push({ o: o, k: k, type: ot[o],
                   km: haversineKm(C.lat[row], C.lon[row], latlngs[k].lat, latlngs[k].lng) });
      }
      out.sort(function (a, b) { return a.km - b.km || a.o - b.o; });
      return out;
    }
    var rFinder = null, finderLayer = L.layerGroup();
    function finderRenderer() {
      if (!rFinder) { rFinder = L.canvas({ pane: pane(map, "omFinder", 430) }); }
      return rFinder;
    }
    function comuneFeature(c) {
      var feats = ((data.boundaries || {}).comuni || {}).features || [];
      var code = comuniData().code[c];
      for (var q = 0; q < feats.length; q++) {
        if (feats[q].properties && feats[q].properties.code === code) { return feats[q]; }
      }
      return null;
    }
    /* Mark a comune: its outline and its reference point, labelled with its name. */
    function markComune(c) {
      var C = comuniData(), feat = comuneFeature(c), point = L.latLng(C.lat[c], C.lon[c]);
      if (feat) {
        L.geoJSON(feat, { renderer: finderRenderer(), interactive: false,
                          style: { color: "#111111", weight: 3, opacity: 0.9, fill: false } })
          .addTo(finderLayer);
      }
      L.circleMarker(point, { renderer: finderRenderer(), interactive: false, radius: 5,
                              color: "#ffffff", weight: 2, fillColor: "#111111",
                              fillOpacity: 1 }).addTo(finderLayer);
      L.tooltip({ permanent: true, direction: "right", offset: [6, 0], interactive: false,
                  className: "om-place-label" })
        .setLatLng(point).setContent(el("span", null, C.name[c])).addTo(finderLayer);
      if (!map.hasLayer(finderLayer)) { finderLayer.addTo(map); }
      return feat ? L.geoJSON(feat).getBounds() : L.latLngBounds([point, point]);
    }
    /* A comune found by the search box: zoom to it, say what is there. */
    function showComune(c) {
      var C = comuniData();
      finderLayer.clearLayers();
      var bounds = markComune(c);
      map.fitBounds(bounds, { padding: [30, 30], maxZoom: 13, animate: false });
      var box = el("div", "om-pop");
      add(box, el("h3", null, C.name[c]));
      var here = actorsInComune(c);
      add(box, el("p", "om-sub", here.length
        ? plural(here.length, "organizzazione", "organizzazioni") + " della mappa nel comune."
        : "Nessuna organizzazione della mappa nel comune."));
      if (here.length) {
        var ul = add(box, el("ul", "om-list om-members"));
        here.slice(0, 10).forEach(function (k) {
          var btn = add(add(ul, el("li")), el("button", "om-link", props[k].n));
          btn.type = "button";
          btn.addEventListener("click", function (ev) { ev.stopPropagation(); focusActor(k); });
        });
      }
      var near = add(box, el("button", "om-button", "Opportunità vicine a questo comune"));
      near.type = "button";
      near.addEventListener("click", function (ev) {
        ev.stopPropagation();
        map.closePopup(popup);
        openFinder(C.name[c], true);
      });
      popup.setLatLng(L.latLng(C.lat[c], C.lon[c])).setContent(box).openOn(map);
    }

    /* The "Vicino a un comune" panel: built when first opened. */
    var finder = { box: null, summary: null, body: null, input: null, types: null, out: null,
                   built: false, last: null };
    function typeChoice() {
      var chosen = [];
      if (finder.types) {
        finder.types.forEach(function (cb) { if (cb.checked) { chosen.push(+cb.value); } });
      }
      return chosen;
    }
    function buildFinder() {
      if (finder.built) { return; }
      finder.built = true;
      var body = finder.body, C = comuniData(), info = data.finder || {};
      add(body, el("p", "om-note", info.scope || ""));
      var form = add(body, el("form", "om-finder-form"));
      form.setAttribute("role", "search");
      form.setAttribute("aria-label", "Opportunità vicine a un comune");
      var lab = add(form, el("label", "om-label", "Comune"));
      var input = finder.input = add(lab, el("input", "om-finder-input"));
      input.type = "text";
      input.autocomplete = "off";
      input.spellcheck = false;
      input.placeholder = "Nome del comune…";
      var list = add(form, el("datalist"));
      list.id = "om-comuni-" + L.Util.stamp(map);
      input.setAttribute("list", list.id);
      for (var c = 0; c < C.n; c++) { add(list, el("option")).value = C.name[c]; }
      var fs = add(form, el("fieldset", "om-finder-types"));
      add(fs, el("legend", null, "Tipi di opportunità (nessuna scelta: tutti)"));
      finder.types = [];
      // the types offered in the territory, and those active elsewhere in the map
      var elsewhere = {};
      ((data.coverage || {}).types || []).forEach(function (t) { elsewhere[t] = true; });
      oppTypes.forEach(function (t, k) {
        if (!t.count && !elsewhere[k]) { return; }
        var l = add(fs, el("label", "om-check"));
        var cb = add(l, el("input"));
        cb.type = "checkbox";
        cb.value = String(k);
        add(l, document.createTextNode(" " + t.label));
        if (!t.count) { add(l, el("span", "om-sub om-inline", " (nessuna nel territorio)")); }
        finder.types.push(cb);
      });
      var go = add(form, el("button", "om-button om-finder-go", "Cerca le opportunità vicine"));
      go.type = "submit";
      finder.out = add(body, el("div", "om-finder-out"));
      finder.out.setAttribute("aria-live", "polite");
      form.addEventListener("submit", function (ev) { ev.preventDefault(); runFinder(); });
      input.addEventListener("keydown", function (ev) {
        if (ev.key === "ArrowDown" && !ev.altKey) {
          var first = finder.out.querySelector(".om-finder-item");
          if (first) { ev.preventDefault(); first.focus(); }
        }
      });
      finder.out.addEventListener("keydown", function (ev) {
        var items = [].slice.call(finder.out.querySelectorAll(".om-finder-item"));
        var at = items.indexOf(document.activeElement);
        if (at < 0) { return; }
        var next = ev.key === "ArrowDown" ? at + 1 : ev.key === "ArrowUp" ? at - 1
          : ev.key === "Home" ? 0 : ev.key === "End" ? items.length - 1 : null;
        if (next === null) { return; }
        ev.preventDefault();
        if (next < 0) { input.focus(); } else { items[Math.min(next, items.length - 1)].focus(); }
      });
    }
    /* Fit padding that keeps what is fitted out from under the open panel: to its
       right on a wide screen, below it on a phone (when room is left). */
    function besidePanel() {
      var pad = { paddingTopLeft: [30, 30], paddingBottomRight: [30, 30] };
      if (!finder.box || !finder.box.open) { return pad; }
      var r = finder.box.getBoundingClientRect(), c = map.getContainer().getBoundingClientRect();
      if (!narrow && c.right - r.right > 300) { pad.paddingTopLeft = [r.right - c.left + 20, 30]; }
      else if (c.bottom - r.bottom > 160) { pad.paddingTopLeft = [20, r.bottom - c.top + 20]; }
      return pad;
    }
    function openFinder(name, run) {
      finder.box.open = true;
      buildFinder();
      if (name !== undefined) { finder.input.value = name; }
      if (run) { return runFinder(); }
      finder.input.focus();
      return null;
    }
    function finderMessage(text, rows) {
      add(finder.out, el("p", "om-empty", text));
      if (rows && rows.length) {
        var p = add(finder.out, el("p", "om-sub", "Forse: "));
        rows.forEach(function (c, q) {
          if (q) { add(p, document.createTextNode(", ")); }
          var b = add(p, el("button", "om-link", comuniData().name[c]));
          b.type = "button";
          b.addEventListener("click", function () { openFinder(comuniData().name[c], true); });
        });
      }
    }
    /* Run the panel's query; returns {comune, items} (what the list shows) or null. */
    /* The nearest opportunity of the types anywhere in the map (the coverage
       layer's distances, computed in Python across territory borders), or null. */
    function nearestAnywhere(row, types) {
      var cv = data.coverage || {}, best = null;
      (cv.types || []).forEach(function (t, q) {
        if (types.length && types.indexOf(t) < 0) { return; }
        var km = ((cv.km || [])[q] || [])[row];
        if (km !== null && km !== undefined && (best === null || km < best)) { best = km; }
      });
      return best;
    }
    function runFinder(explicitTypes) {
      buildFinder();
      var out = finder.out, C = comuniData(), info = data.finder || {};
      out.textContent = "";
      finderLayer.clearLayers();
      finder.last = null;
      var text = finder.input.value;
      if (!String(text).trim()) {
        finderMessage("Scrivere o scegliere un comune del territorio.");
        return null;
      }
      var found = matchComune(text);
      if (found.outside) {
        finderMessage("Il comune indicato è in un'altra provincia (" + found.outside +
          "): questa mappa elenca le opportunità del suo territorio.");
        return null;
      }
      if (found.ambiguous) {
        finderMessage("Più comuni con questo nome: sceglierne uno.", found.ambiguous);
        return null;
      }
      if (found.row === undefined) {
        finderMessage("Comune non trovato in questo territorio: «" + String(text).trim() + "».",
          found.suggestions);
        return null;
      }
      var c = found.row, types = explicitTypes || typeChoice(), limit = info.limit || 20;
      var all = nearest(c, types), items = all.slice(0, limit);
      var what = types.length ? " (" + types.map(function (t) {
        return (oppTypes[t] || { label: "" }).label;
      }).join(", ") + ")" : "";
      var bounds = markComune(c);
      if (!items.length) {
        add(out, el("p", "om-finder-head", C.name[c] + what));
        add(out, el("p", "om-empty", "Nessuna opportunità attiva " +
          (types.length === 1 ? "di questo tipo" : types.length ? "di questi tipi" : "") +
          " presso le organizzazioni del territorio al " + itDate(data.asOf) + "."));
      } else {
        add(out, el("p", "om-finder-head", C.name[c] + what + ": " +
          (all.length > limit ? "le " + limit + " opportunità più vicine su " + all.length
            : all.length === 1 ? "1 opportunità" : all.length + " opportunità, dalla più vicina") +
          ", al " + itDate(data.asOf) + "."));
        var ol = add(out, el("ol", "om-finder-list"));
        ol.setAttribute("aria-label", "Opportunità più vicine a " + C.name[c]);
        var ringed = {};
        items.forEach(function (it) {
          var p = props[it.k], o = data.opportunities, type = oppTypes[it.type] || { label: "" };
          var name = (data.strings || [])[(o.name || [])[it.o]] || "";
          var b = add(add(ol, el("li")), el("button", "om-finder-item"));
          b.type = "button";
          var line = add(b, el("span", "om-finder-line"));
          add(line, el("span", "om-km", kmText(it.km)));
          add(line, el("strong", null, type.label));
          if (name) { add(line, document.createTextNode(": " + name)); }
          add(b, el("span", "om-sub", p.n + (p.c ? " · " + p.c : "")));
          if (p.x) { add(b, el("span", "om-approx-tag", "posizione approssimata")); }
          b.addEventListener("click", function () { focusActor(it.k); });
          if (!ringed[it.k]) {
            ringed[it.k] = true;
            bounds.extend(latlngs[it.k]);
            L.circleMarker(latlngs[it.k], { renderer: finderRenderer(), interactive: false,
              radius: 11, color: "#111111", weight: 3, opacity: 1, fill: false })
              .addTo(finderLayer);
            L.circleMarker(latlngs[it.k], { renderer: finderRenderer(), interactive: false,
              radius: 14, color: "#ffd400", weight: 2.5, opacity: 1, fill: false })
              .addTo(finderLayer);
          }
        });
      }
      var anywhere = nearestAnywhere(c, types);
      if (anywhere !== null && (!items.length || anywhere < Math.round(items[0].km * 10) / 10)) {
        add(out, el("p", "om-approx", "Un'opportunità " + (types.length === 1 ? "di questo tipo "
          : types.length ? "di questi tipi " : "") + "più vicina, a " + kmText(anywhere) + ", è in un altro territorio: " +
          "la si trova nella mappa di quel territorio o con «opportunity-map trova»."));
      }
      add(out, el("p", "om-note", info.note || ""));
      map.fitBounds(bounds, L.extend({ maxZoom: 13, animate: false }, besidePanel()));
      // the panel scrolls to the answer (the form stays above it)
      finder.box.scrollTop = Math.max(out.offsetTop - 40, 0);
      finder.last = {
        comune: C.name[c],
        items: items.map(function (it) {
          return { row: it.o, km: it.km, type: (oppTypes[it.type] || {}).code,
                   actor: props[it.k].id };
        })
      };
      return finder.last;
    }
    panelControl("topleft", function () {
      var box = finder.box = leftPanel(collapsible("om-finder", "Vicino a un comune", false));
      finder.summary = box.querySelector("summary");
      finder.summary.setAttribute("aria-label",
        "Vicino a un comune: le opportunità più vicine a un comune del territorio");
      finder.body = add(box, el("div", "om-finder-body"));
      finder.summary.addEventListener("click", buildFinder);
      box.addEventListener("toggle", function () {
        if (!box.open) { return; }
        buildFinder();
        // one panel at a time on the left (on a phone, the legend closes too)
        if (summaryBox) { summaryBox.open = false; }
        if (narrow && legendBox) { legendBox.open = false; }
      });
      box.addEventListener("keydown", function (ev) {
        if (ev.key === "Escape" && box.open) {
          ev.preventDefault();
          box.open = false;
          finder.summary.focus();
        }
      });
      return box;
    }).addTo(map);

    panelControl("topleft", function () {
      var box = listBox = leftPanel(collapsible("om-list-panel", "Elenco delle organizzazioni",
        false));
      box.id = "om-elenco-" + L.Util.stamp(map);
      box.querySelector("summary").setAttribute("aria-label",
        "Elenco delle organizzazioni mostrate sulla mappa, con le loro opportunità");
      listBody = add(box, el("div", "om-list-body"));
      box.addEventListener("toggle", fillList);
      return box;
    }).addTo(map);

    /* The "Copertura" layer: comuni shaded by the distance (computed in Python,
       finder.coverage) to the nearest active opportunity of one type. Off at
       start, built when first shown. */
    var cov = data.coverage && (data.coverage.types || []).length ? data.coverage : null;
    var covLayer = null, covType = 0, covBox = null, covTip = null, covLayers = {};
    var covHatch = "om-hatch-" + L.Util.stamp(map);
    if (cov) {
      // start on the first type the territory offers, else the first one
      for (var ct = 0; ct < cov.types.length; ct++) {
        if ((oppTypes[cov.types[ct]] || {}).count) { covType = ct; break; }
      }
    }
    function covClass(km) {
      if (km === null || km === undefined || !isFinite(km)) { return -1; }
      var cl = cov.classes || [];
      for (var q = 0; q < cl.length; q++) {
        if (cl[q].max === null || km <= cl[q].max) { return q; }
      }
      return cl.length - 1;
    }
    function covKm(code) {
      var row = comuniData().byCode[code];
      var km = row === undefined ? null : (cov.km[covType] || [])[row];
      return km === undefined ? null : km;
    }
    function covStyle(f) {
      var q = covClass(covKm(f.properties && f.properties.code));
      return { color: "#4d4d4d", weight: 0.7, opacity: 0.9, fillOpacity: q < 0 ? 1 : 0.82,
               fillColor: q < 0 ? "url(#" + covHatch + ")" : safeColor(cov.classes[q].color) };
    }
    function hatchDefs(svg) {
      if (!svg || svg.querySelector("#" + covHatch)) { return; }
      var defs = document.createElementNS(SVG_NS, "defs");
      var pat = document.createElementNS(SVG_NS, "pattern");
      pat.setAttribute("id", covHatch);
      pat.setAttribute("patternUnits", "userSpaceOnUse");
      pat.setAttribute("width", "8"); pat.setAttribute("height", "8");
      pat.setAttribute("patternTransform", "rotate(45)");
      var bg = document.createElementNS(SVG_NS, "rect");
      bg.setAttribute("width", "8"); bg.setAttribute("height", "8");
      bg.setAttribute("fill", safeColor((cov.none || {}).color));
      var line = document.createElementNS(SVG_NS, "line");
      line.setAttribute("x1", "0"); line.setAttribute("y1", "0");
      line.setAttribute("x2", "0"); line.setAttribute("y2", "8");
      line.setAttribute("stroke", "#555555"); line.setAttribute("stroke-width", "2.5");
      pat.appendChild(bg); pat.appendChild(line); defs.appendChild(pat);
      svg.insertBefore(defs, svg.firstChild);
    }
    var covBoxes = null;
    function covFeatureAt(latlng) {
      var feats = ((data.boundaries || {}).comuni || {}).features || [];
      if (!covBoxes) {
        covBoxes = feats.map(function (f) { return L.geoJSON(f).getBounds(); });
      }
      var x = latlng.lng, y = latlng.lat;
      function inRing(ring) {
        var inside = false;
        for (var a = 0, b = ring.length - 1; a < ring.length; b = a++) {
          var xa = ring[a][0], ya = ring[a][1], xb = ring[b][0], yb = ring[b][1];
          if ((ya > y) !== (yb > y) && x < (xb - xa) * (y - ya) / (yb - ya) + xa) {
            inside = !inside;
          }
        }
        return inside;
      }
      function inPolygon(poly) {
        if (!inRing(poly[0])) { return false; }
        for (var h = 1; h < poly.length; h++) { if (inRing(poly[h])) { return false; } }
        return true;
      }
      for (var q = 0; q < feats.length; q++) {
        if (!covBoxes[q].contains(latlng)) { continue; }
        var g = feats[q].geometry || {};
        var polys = g.type === "Polygon" ? [g.coordinates]
          : g.type === "MultiPolygon" ? g.coordinates : [];
        for (var p = 0; p < polys.length; p++) { if (inPolygon(polys[p])) { return feats[q]; } }
      }
      return null;
    }
    function covTipText(f) {
      var km = covKm(f.properties.code), type = oppTypes[cov.types[covType]] || { label: "" };
      var box = el("div");
      add(box, el("strong", null, f.properties.name));
      add(box, el("div", null, km === null ? "Nessuna opportunità attiva: " + type.label
        : type.label + " più vicino: " + kmText(km) +
          (km > cov.thresholdKm ? " (oltre la soglia)" : "")));
      return box;
    }
    var covFrame = null;
    function onCovMove(e) {
      if (covFrame) { return; }
      covFrame = global.requestAnimationFrame(function () {
        covFrame = null;
        var f = covFeatureAt(e.latlng);
        if (!f) { map.closeTooltip(covTip); return; }
        covTip.setLatLng(e.latlng).setContent(covTipText(f));
        map.openTooltip(covTip);
      });
    }
    function showCoverage(on, typePos) {
      if (!cov) { return; }
      if (typePos !== undefined && cov.types[typePos] !== undefined) { covType = typePos; }
      if (on && !covLayer) {
        covLayer = L.geoJSON((data.boundaries || {}).comuni, {
          renderer: L.svg({ pane: pane(map, "omCoverage", 360) }), interactive: false,
          style: covStyle,
          onEachFeature: function (f, layer) { covLayers[f.properties.code] = layer; }
        });
        covTip = L.tooltip({ direction: "top", offset: [0, -6], className: "om-tip" });
      }
      if (on) {
        if (!map.hasLayer(covLayer)) {
          covLayer.addTo(map);
          map.on("mousemove", onCovMove);
        }
        hatchDefs(map.getPane("omCoverage").querySelector("svg"));
        covLayer.setStyle(covStyle);
      } else if (covLayer && map.hasLayer(covLayer)) {
        map.removeLayer(covLayer);
        map.off("mousemove", onCovMove);
        map.closeTooltip(covTip);
      }
      fillCoverageLegend();
    }
    var covCheck = null, covBody = null;
    function fillCoverageLegend() {
      if (!covBody) { return; }
      var on = !!covLayer && map.hasLayer(covLayer);
      covCheck.checked = on;
      covBody.textContent = "";
      covBody.hidden = !on;
      if (!on) { return; }
      var lab = add(covBody, el("label", "om-label", "Tipo di opportunità"));
      var select = add(lab, el("select", "om-coverage-type"));
      cov.types.forEach(function (t, q) {
        var opt = add(select, el("option", null, (oppTypes[t] || { label: "" }).label));
        opt.value = String(q);
      });
      select.value = String(covType);
      select.addEventListener("change", function () {
        showCoverage(true, +select.value);
        var again = covBody.querySelector(".om-coverage-type");
        if (again) { again.focus(); }
      });
      add(covBody, el("p", "om-sub", "Distanza dal punto di riferimento del comune " +
        "all'opportunità attiva più vicina:"));
      var ul = add(covBody, el("ul", "om-legend-list"));
      (cov.classes || []).forEach(function (c) {
        var sw = el("span", "om-swatch");
        sw.style.background = safeColor(c.color);
        legendRow(ul, sw, c.label);
      });
      legendRow(ul, el("span", "om-swatch om-hatch"), (cov.none || {}).label + " (tratteggio)");
      var C = comuniData(), beyond = 0, kms = cov.km[covType] || [];
      for (var q = 0; q < C.n; q++) {
        if (kms[q] === null || kms[q] === undefined || kms[q] > cov.thresholdKm) { beyond += 1; }
      }
      add(covBody, el("p", "om-sub", "Oltre la soglia di " +
        String(cov.thresholdKm).replace(".", ",") + " km: " +
        plural(beyond, "comune", "comuni") + " su " + C.n + "."));
      (cov.notes || []).forEach(function (note) { add(covBody, el("p", "om-note", note)); });
    }
    function coverageLegend(box) {
      if (!cov) { return; }
      var wrap = add(box, el("div", "om-coverage"));
      var lab = add(wrap, el("label", "om-check om-coverage-toggle"));
      covCheck = add(lab, el("input"));
      covCheck.type = "checkbox";
      add(lab, document.createTextNode(" Copertura: distanza dall'opportunità più vicina"));
      covCheck.addEventListener("change", function () { showCoverage(covCheck.checked); });
      covBody = add(wrap, el("div", "om-coverage-body"));
      covBody.hidden = true;
    }

    // ---- summary panel
    var s = data.summary || {};
    var summaryBody = null;
    /* the summary at the date shown: the page's own at the map's date, else the
       timeline's (figures computed in Python; the baseline comparison is the map's) */
    function fillSummary() {
      if (!summaryBody) { return; }
      summaryBody.textContent = "";
      var at = dateIdx === timeline.current ? s : (timeline.summaries[dateIdx] || {});
      fillSummaryBody(summaryBody, at);
    }
    panelControl("topleft", function () {
      var box = summaryBox = leftPanel(collapsible("om-summary",
        s.title || data.title || "Riepilogo", !narrow));
      summaryBody = add(box, el("div", "om-summary-body"));
      fillSummary();
      (s.notes || []).forEach(function (note) { add(box, el("p", "om-note", note)); });
      return box;
    }).addTo(map);
    function fillSummaryBody(box, s) {
      (s.lines || []).forEach(function (line) { add(box, el("p", "om-sub", line)); });
      var table = add(box, el("table", "om-table"));
      var thead = add(table, el("thead"));
      var hr = add(thead, el("tr"));
      ["Gruppo", "Organizzazioni", "Legami"].forEach(function (h) {
        add(hr, el("th", null, h));
      });
      var tbody = add(table, el("tbody"));
      (s.rows || []).forEach(function (row) {
        var tr = add(tbody, el("tr"));
        var td = add(tr, el("td"));
        var g = groups[row.group];
        if (g) { add(td, symbolNode(g.shape, g.color, false)); }
        add(td, el("span", null, row.label));
        add(tr, el("td", "om-num", row.actors));
        add(tr, el("td", "om-num", row.ties));
      });
      if (s.total) {
        var tf = add(add(table, el("tfoot")), el("tr"));
        add(tf, el("th", null, "Totale"));
        add(tf, el("th", "om-num", s.total.actors));
        add(tf, el("th", "om-num", s.total.ties));
      }
      var dl = add(box, el("dl", "om-fields"));
      (s.figures || []).forEach(function (fig) { dlRow(dl, fig[0], fig[1]); });
    }

    // ---- changes since the previous Tavolo (a layer; counts in the legend)
    var rChanges = L.canvas({ pane: pane(map, "omChanges", 400) });
    var changeLayer = L.layerGroup(), changeMarks = L.layerGroup();
    changeLayer.addLayer(changeMarks);
    var changeCounts = null;
    function buildChanges() {
      changeLines.clearLayers();
      changeMarks.clearLayers();
      var b = timeline.previous(dateIdx);
      changeCounts = { from: b === null ? null : timeline.dates[b], to: timeline.dates[dateIdx],
                       tieNew: 0, tieEnded: 0, levelUp: 0, levelDown: 0, entered: 0, left: 0 };
      if (b === null) { return changeCounts; }
      var la = timeline.levels(b), lb = levelNow, aa = timeline.actors(b), ab = activeNow;
      var fresh = [], ended = {}, endedKeys = [], r, k;
      for (r = 0; r < R; r++) {
        var before = la[r], after = lb[r], rel = rels[r];
        if (!before && after) { changeCounts.tieNew += 1; fresh.push(rel[0], rel[1]); }
        else if (before && !after) {
          changeCounts.tieEnded += 1;
          if (!ended[before]) { ended[before] = []; endedKeys.push(before); }
          ended[before].push(rel[0], rel[1]);
        } else if (before && after && before !== after) {
          var up = after > before;
          changeCounts[up ? "levelUp" : "levelDown"] += 1;
          var mid = L.latLng((latlngs[rel[0]].lat + latlngs[rel[1]].lat) / 2,
                             (latlngs[rel[0]].lng + latlngs[rel[1]].lng) / 2);
          changeMarks.addLayer(new ShapeMarker(mid, {
            renderer: rChanges, interactive: false, shape: up ? "triangle" : "triangle-down",
            radius: 5, color: "#1f1f1f", weight: 1.5, opacity: 1,
            fillColor: up ? "#1f1f1f" : "#ffffff", fillOpacity: 1 }));
        }
      }
      var factor = lineFactor();
      if (fresh.length) {
        var casing = new TieSegments(world, Int32Array.from(fresh), {
          renderer: rLines, color: "#0072b2", weight: CASING * factor, opacity: 1 });
        casing.omWeight = CASING;
        casing.addTo(changeLines);
      }
      endedKeys.forEach(function (lv) {
        var w = (levels[lv] || { weight: 1.5 }).weight;
        var line = new TieSegments(world, Int32Array.from(ended[lv]), {
          renderer: rChanges, color: "#3a3a3a", weight: Math.max(w, 1.5) * factor,
          opacity: 0.9, omDash: [7, 5] });
        line.omWeight = Math.max(w, 1.5);
        line.addTo(changeMarks);
      });
      for (k = 0; k < N; k++) {
        if (ab[k] && !aa[k]) {
          changeCounts.entered += 1;
          changeMarks.addLayer(L.circleMarker(latlngs[k], {
            renderer: rChanges, interactive: false, radius: 12, color: "#000000", weight: 2.5,
            opacity: 1, fill: false }));
        } else if (aa[k] && !ab[k]) {
          changeCounts.left += 1;
          var g = groups[props[k].g] || { shape: "circle" };
          changeMarks.addLayer(new ShapeMarker(latlngs[k], {
            renderer: rChanges, interactive: false, shape: g.shape, radius: 6.5,
            color: "#555555", weight: 1.5, opacity: 1, dashArray: "3 2",
            fillColor: "#d9d9d9", fillOpacity: 0.9 }));
        }
      }
      orderLines();
      return changeCounts;
    }
    var CASING = 11;
    changeLayer.on("add", function () {
      buildChanges();
      changeLines.addTo(map);
      orderLines();
      updateChangesLegend();
    });
    changeLayer.on("remove", function () {
      map.removeLayer(changeLines);
      updateChangesLegend();
    });
    var changesLegend = null;
    function updateChangesLegend() {
      if (!changesLegend) { return; }
      changesLegend.textContent = "";
      changesLegend.hidden = !map.hasLayer(changeLayer);
      if (changesLegend.hidden) { return; }
      var c = changeCounts || buildChanges();
      add(changesLegend, el("h4", null, "Modifiche dal Tavolo precedente"));
      if (c.from === null) {
        add(changesLegend, el("p", "om-note",
          "Nessun Tavolo precedente nella mappa: scegliere una data successiva."));
        return;
      }
      add(changesLegend, el("p", "om-note", "Dal " + itDate(c.from) + " al " + itDate(c.to) +
        ": " + plural(c.tieNew + c.tieEnded + c.levelUp + c.levelDown, "legame cambiato",
          "legami cambiati") + ", " + plural(c.entered + c.left, "organizzazione cambiata",
          "organizzazioni cambiate") + "."));
      var ul = add(changesLegend, el("ul", "om-legend-list om-changes-list"));
      legendRow(ul, casingNode("#0072b2"), "Legami nuovi (" + c.tieNew + ")");
      legendRow(ul, lineNode("#3a3a3a", 2.2, "5 3"), "Legami conclusi (" + c.tieEnded + ")");
      legendRow(ul, levelNode(true), "Livello cambiato (" + (c.levelUp + c.levelDown) +
        "): ▲ salito " + c.levelUp + ", ▽ sceso " + c.levelDown);
      legendRow(ul, ringNode(), "Organizzazioni entrate (" + c.entered + ")");
      var gone = symbolNode("circle", "#555555", true);
      gone.querySelector("circle, polygon").setAttribute("fill", "#d9d9d9");
      legendRow(ul, gone, "Organizzazioni uscite (" + c.left + ")");
    }
    function casingNode(color) {
      var svg = lineNode(color, 9, null, 0.6);
      var inner = document.createElementNS(SVG_NS, "line");
      ["x1", "y1", "x2", "y2"].forEach(function (a, q) {
        inner.setAttribute(a, String([2, 6, 26, 6][q]));
      });
      inner.setAttribute("stroke", "#555555");
      inner.setAttribute("stroke-width", "2");
      svg.appendChild(inner);
      return svg;
    }
    function levelNode() {
      var svg = lineNode("#555555", 2);
      var up = document.createElementNS(SVG_NS, "polygon");
      up.setAttribute("points", "14,1.5 18.5,9.5 9.5,9.5");
      up.setAttribute("fill", "#1f1f1f");
      svg.appendChild(up);
      return svg;
    }
    function ringNode() {
      var svg = document.createElementNS(SVG_NS, "svg");
      svg.setAttribute("width", "28"); svg.setAttribute("height", "16");
      svg.setAttribute("class", "om-symbol");
      var c = document.createElementNS(SVG_NS, "circle");
      c.setAttribute("cx", "14"); c.setAttribute("cy", "8"); c.setAttribute("r", "6.5");
      c.setAttribute("fill", "none"); c.setAttribute("stroke", "#000000");
      c.setAttribute("stroke-width", "2");
      svg.appendChild(c);
      return svg;
    }

    // ---- legend
    panelControl(narrow ? "topleft" : "bottomright", function () {
      var box = legendBox = collapsible("om-legend", "Legenda", !narrow);
      if (narrow) { leftPanel(box); }
      coverageLegend(box);
      if (timeline.dates.length > 1) {
        // first, so that it is seen without scrolling when the layer is on
        changesLegend = add(box, el("div", "om-changes"));
        changesLegend.hidden = true;
      }
      add(box, el("h4", null, "Organizzazioni"));
      var ul = add(box, el("ul", "om-legend-list"));
      groups.forEach(function (g) {
        legendRow(ul, symbolNode(g.shape, g.color, false), g.label);
      });
      legendRow(ul, symbolNode("circle", "#555555", true), "Posizione approssimata (comune)");
      var usedKinds = {};
      rels.forEach(function (rel) { usedKinds[rel[2]] = true; });
      if (R) {
        add(box, el("h4", null, "Legami: tipo (colore)"));
        var kl = add(box, el("ul", "om-legend-list"));
        relKinds.forEach(function (k, idx) {
          if (usedKinds[idx]) { legendRow(kl, lineNode(k.color, 3), k.label); }
        });
        add(box, el("h4", null, "Legami: livello (spessore)"));
        var ll = add(box, el("ul", "om-legend-list"));
        (data.levels || []).forEach(function (lv) {
          legendRow(ll, lineNode("#555555", lv.weight), lv.value + " – " + lv.label);
        });
        if (data.baseline) {
          legendRow(ll, lineNode("#ffc400", 8, null, 0.6), "Legame nuovo dal " + baselineText);
        }
      }
      add(box, el("h4", null, "Confini"));
      var bl = add(box, el("ul", "om-legend-list"));
      legendRow(bl, lineNode("#303030", 2.6), "Provincia");
      if (boundaries.ambiti) {
        legendRow(bl, lineNode("#b35806", 1.8, "7 5"), "Ambito territoriale");
      }
      legendRow(bl, lineNode("#8c8c8c", 1), "Comune");
      return box;
    }).addTo(map);

    // ---- attribution
    (data.credits || []).forEach(function (credit) {
      map.attributionControl.addAttribution(esc(credit));
    });

    // ---- layer control, added last so that every layer exists
    var overlays = {};
    function groupCount(gl) {
      var n = 0, v = 0;
      gl.members.forEach(function (k) {
        if (activeNow[k]) { n += 1; }
        if (visible[k]) { v += 1; }
      });
      return filterCode === "" ? String(n) : v + " di " + n;
    }
    groupLayers.forEach(function (gl, g) {
      overlays[symbolSvg(gl.group.shape, gl.group.color, false) + " " + esc(gl.group.label) +
        ' <span class="om-count" data-om-group="' + g + '">(' + groupCount(gl) + ")</span>"] =
        gl.container;
    });
    overlays['Legami <span class="om-count" data-om-ties="1">(' + tiesAtDate() + ")</span>"] =
      relLayer;
    if (data.baseline) {
      overlays[esc("Legami nuovi dal " + baselineText)] = newLayer;
    }
    if (timeline.dates.length > 1) {
      overlays["Modifiche dal Tavolo precedente"] = changeLayer;
    }
    if (boundaries.ambiti) { overlays["Ambiti territoriali"] = boundaries.ambiti; }
    if (boundaries.comuni) { overlays["Comuni"] = boundaries.comuni; }
    if (boundaries.province) { overlays["Confine provinciale"] = boundaries.province; }
    var bases = null;
    if (options.tileLayer) {
      bases = { "OpenStreetMap": options.tileLayer, "Nessuno sfondo": L.layerGroup() };
    }
    var layerControl = null;
    layerControl = L.control.layers(bases, overlays,
      { collapsed: narrow, position: "topright" }).addTo(map);
    function updateLayerCounts() {
      if (!layerControl) { return; }
      var box = layerControl.getContainer();
      groupLayers.forEach(function (gl, g) {
        var span = box.querySelector('[data-om-group="' + g + '"]');
        if (span) { span.textContent = "(" + groupCount(gl) + ")"; }
      });
      var ties = box.querySelector("[data-om-ties]");
      if (ties) { ties.textContent = "(" + tiesAtDate() + ")"; }
    }
    if (timeline.showChanges && timeline.previous(dateIdx) !== null) { changeLayer.addTo(map); }
    if (dateIdx !== timeline.current) { setDate(dateIdx); }

    mark("controls");

    function counts() {
      var markersShown = 0, lines = 0;
      groupLayers.forEach(function (gl) {
        markersShown += clustered ? gl.cluster.size() : gl.flat.getLayers().length;
      });
      relLayer.eachLayer(function (pl) { lines += pl.count(); });
      var halo = newLayer.getLayers();
      var clusters = 0;
      groupLayers.forEach(function (gl) {
        if (clustered && map.hasLayer(gl.container)) { clusters += gl.cluster.clustersShown(); }
      });
      return { actors: N, markers: markersShown, relations: R, relationLines: lines,
               newLines: halo.length ? halo[0].count() : 0, clusters: clusters,
               actorsAtDate: actorsAtDate(), tiesAtDate: tiesAtDate(),
               date: timeline.dates[dateIdx] };
    }
    var api = {
      map: map, counts: counts, search: search, openActor: openActor, focusActor: focusActor,
      setFilter: setFilter, layerControl: layerControl, setDate: setDate,
      openList: openList, listShown: function () { return listShown().length; },
      nearestTie: nearestTie, clearEgo: clearEgo,
      tieAt: function (ri) {
        var a = latlngs[rels[ri][0]], b = latlngs[rels[ri][1]];
        return map.latLngToContainerPoint(L.latLng(a.lat * 0.6 + b.lat * 0.4,
                                                   a.lng * 0.6 + b.lng * 0.4));
      },
      shownTies: function () { return shownTies.slice(); },
      fitShown: fitShown, showComune: showComune, matchComune: matchComune,
      findNear: function (text, types) {
        openFinder(text);
        if (types) {
          finder.types.forEach(function (cb) { cb.checked = types.indexOf(+cb.value) >= 0; });
        }
        return runFinder(types || undefined);
      },
      showCoverage: showCoverage,
      coverageFill: function (code) {
        var layer = covLayers[code];
        return layer ? layer.options.fillColor : null;
      },
      dates: timeline.dates, changeLayer: changeLayer,
      changes: function () { return buildChanges(); },
      indexOf: function (id) {
        for (var k = 0; k < N; k++) { if (props[k].id === id) { return k; } }
        return -1;
      },
      skipTarget: listBox, skipLabel: "Salta all'elenco delle organizzazioni",
      renderMs: now() - t0, marks: marks
    };
    return api;
  }

  // ------------------------------------------------------------- index page
  function renderIndex(map, data, options) {
    options = options || {};
    var t0 = global.performance ? global.performance.now() : 0;
    L.DomUtil.addClass(map.getContainer(), options.tileLayer ? "om-tiles" : "om-no-tiles");
    var rPoly = L.canvas({ pane: pane(map, "omBoundaries", 350) });
    var fc = data.territories || { type: "FeatureCollection", features: [] };
    var popup = L.popup({ maxWidth: 360, minWidth: 260, className: "om-popup om-index-popup" });
    function mapLink(p, text) {
      var ok = typeof p.href === "string" && /^[a-z0-9][a-z0-9_-]*\.html$/.test(p.href);
      if (!ok) {
        return el("span", "om-sub", text === undefined ? "mappa non generata" : text);
      }
      var href = p.href;
      var a = el("a", "om-maplink", text === undefined ? "Apri la mappa del territorio" : text);
      a.href = href;
      return a;
    }
    function card(p) {
      var box = el("div", "om-pop");
      box.setAttribute("role", "dialog");
      box.setAttribute("aria-label", p.name);
      add(box, el("h3", null, p.name));
      var dl = add(box, el("dl", "om-fields"));
      (p.figures || []).forEach(function (fig) { dlRow(dl, fig[0], fig[1]); });
      add(box, mapLink(p));
      return box;
    }
    function dlRow(dl, label, value) {
      if (value === undefined || value === null || value === "") { return; }
      add(dl, el("dt", null, label));
      add(dl, el("dd", null, value));
    }
    var polys = L.geoJSON(fc, {
      renderer: rPoly,
      style: function (f) {
        return { color: "#333333", weight: 1.4, fillColor: safeColor(f.properties.fill),
                 fillOpacity: 0.78 };
      },
      onEachFeature: function (f, layer) {
        var p = f.properties;
        layer.bindTooltip(function () {
          var t = el("div");
          add(t, el("strong", null, p.name));
          if (p.headline) { add(t, el("div", null, p.headline)); }
          return t;
        }, { sticky: true, className: "om-tip" });
        layer.on("click", function (e) {
          popup.setLatLng(e.latlng).setContent(card(p)).openOn(map);
        });
      }
    }).addTo(map);
    var labels = L.layerGroup().addTo(map);
    /* labels that would cover one another: the later ones are hidden (the table
       and the hover still name every territory) */
    function declutter() {
      var kept = [];
      labels.eachLayer(function (t) {
        var node = t.getElement();
        if (!node) { return; }
        node.style.visibility = "";
        var r = node.getBoundingClientRect();
        var hit = kept.some(function (k) {
          return r.left < k.right && k.left < r.right && r.top < k.bottom && k.top < r.bottom;
        });
        if (hit) { node.style.visibility = "hidden"; } else { kept.push(r); }
      });
    }
    map.on("zoomend", declutter);
    fc.features.forEach(function (f) {
      var lp = f.properties.label;
      if (!lp) { return; }
      var t = el("div");
      add(t, el("strong", null, f.properties.name));
      if (f.properties.short) { add(t, el("span", "om-short", f.properties.short)); }
      L.tooltip({ permanent: true, direction: "center", className: "om-index-label",
                  interactive: false })
        .setLatLng([lp[0], lp[1]]).setContent(t).addTo(labels);
    });

    var tableBox = null;
    panelControl("topright", function () {
      var narrow = !!(global.matchMedia && global.matchMedia("(max-width: 600px)").matches);
      var box = tableBox = collapsible("om-summary om-index",
        data.title || "Mappe delle opportunità", !narrow);
      box.id = "om-tabella-" + L.Util.stamp(map);
      (data.lines || []).forEach(function (line) { add(box, el("p", "om-sub", line)); });
      // a table wider than a phone scrolls sideways (focusable, so also by keyboard)
      var scroller = add(box, el("div", "om-table-scroll"));
      scroller.tabIndex = 0;
      scroller.setAttribute("role", "region");
      scroller.setAttribute("aria-label", "Tabella dei territori");
      var table = add(scroller, el("table", "om-table"));
      add(table, el("caption", "om-sr", "Territori: cifre della rete ed esito"));
      var hr = add(add(table, el("thead")), el("tr"));
      (data.columns || []).forEach(function (h) {
        var th = add(hr, el("th", null, h));
        th.scope = "col";
      });
      var tbody = add(table, el("tbody"));
      fc.features.forEach(function (f) {
        var p = f.properties;
        var tr = add(tbody, el("tr"));
        var cell = add(add(tr, el("td")), el("span", "om-name-cell"));
        var sw = add(cell, el("span", "om-swatch"));
        sw.style.background = safeColor(p.fill);
        add(cell, mapLink(p, p.name));
        (p.cells || []).forEach(function (cell, q) {
          add(tr, el("td", q === 4 ? "om-verdict" : "om-num", cell));
        });
      });
      (data.notes || []).forEach(function (note) { add(box, el("p", "om-note", note)); });
      return box;
    }).addTo(map);

    panelControl("bottomleft", function () {
      var box = collapsible("om-legend", data.legendTitle || "Legenda", true);
      var ul = add(box, el("ul", "om-legend-list"));
      (data.legend || []).forEach(function (item) {
        var sw = el("span", "om-swatch");
        sw.style.background = safeColor(item.color);
        legendRow(ul, sw, item.label);
      });
      return box;
    }).addTo(map);

    (data.credits || []).forEach(function (credit) {
      map.attributionControl.addAttribution(esc(credit));
    });
    var overlays = { "Territori": polys, "Etichette": labels };
    var bases = options.tileLayer
      ? { "OpenStreetMap": options.tileLayer, "Nessuno sfondo": L.layerGroup() } : null;
    var layerControl = L.control.layers(bases, overlays,
      { collapsed: true, position: "topleft" }).addTo(map);
    if (data.bounds) {
      // the territories beside the table on a wide screen, not under it
      var wide = map.getSize().x > 900 && tableBox;
      var right = wide ? tableBox.getBoundingClientRect().width + 20 : 10;
      map.fitBounds(data.bounds, { paddingTopLeft: [10, 10], paddingBottomRight: [right, 10],
                                   animate: false });
    }
    declutter();
    return {
      map: map, layerControl: layerControl,
      skipTarget: tableBox, skipLabel: "Salta alla tabella dei territori",
      counts: function () { return { territories: polys.getLayers().length }; },
      renderMs: (global.performance ? global.performance.now() : 0) - t0
    };
  }

  /* What every page has around the map: a skip link, a (visually hidden) h1, the
     map as a named landmark, and the presentation mode (button and #presenta). */
  function frame(map, data, api) {
    var box = map.getContainer(), title = data.title || "Mappa delle opportunità";
    box.setAttribute("role", "main");
    box.setAttribute("aria-label", title);
    var h1 = el("h1", "om-sr", title);
    box.insertBefore(h1, box.firstChild);
    var target = api.skipTarget;
    if (target) {
      var skip = el("a", "om-skip", api.skipLabel || "Salta al contenuto");
      skip.href = "#" + target.id;
      skip.addEventListener("click", function (ev) {
        ev.preventDefault();
        if (target.tagName === "DETAILS") { target.open = true; }
        var sum = target.querySelector("summary") || target;
        sum.focus();
      });
      document.body.insertBefore(skip, document.body.firstChild);
    }
    var btn = null;
    function present(on) {
      document.documentElement.classList.toggle("om-presenta", on);
      if (btn) {
        btn.setAttribute("aria-pressed", on ? "true" : "false");
        btn.lastChild.textContent = on ? "Esci dalla presentazione" : "Presenta";
      }
      global.setTimeout(function () { map.invalidateSize(); }, 0);
    }
    panelControl("topright", function () {
      btn = el("button", "om-present-button");
      btn.type = "button";
      btn.title = "Modalità presentazione: nasconde i pannelli (indirizzo con #presenta)";
      btn.setAttribute("aria-pressed", "false");
      add(btn, el("span", "om-present-icon", "\u25B6 ")).setAttribute("aria-hidden", "true");
      add(btn, el("span", "om-present-text", "Presenta"));
      btn.addEventListener("click", function () {
        var on = !document.documentElement.classList.contains("om-presenta");
        present(on);
        if (global.history && global.history.replaceState) {
          try {
            var keep = (global.location.hash || "").replace(/^#/, "").split("&")
              .filter(function (p) { return p && p !== "presenta"; });
            if (on) { keep.push("presenta"); }
            global.history.replaceState(null, "", keep.length ? "#" + keep.join("&") : " ");
          } catch (e) { /* some viewers cannot change the URL */ }
        }
      });
      return btn;
    }).addTo(map);
    function fromHash() {
      present(/(?:^#|&)presenta(?:&|$)/.test(global.location.hash || ""));
    }
    global.addEventListener("hashchange", fromHash);
    if (/presenta/.test(global.location.hash || "")) { fromHash(); }
    api.present = present;
  }

  function start(kind, map, dataId, options) {
    var node = document.getElementById(dataId);
    var t0 = global.performance ? global.performance.now() : 0;
    var data = JSON.parse(node.textContent);
    var t1 = global.performance ? global.performance.now() : 0;
    L.control.scale({ imperial: false, position: "bottomleft" }).addTo(map);
    var api = (kind === "index" ? renderIndex : render)(map, data, options);
    frame(map, data, api);
    api.parseMs = t1 - t0;
    api.readyAt = global.performance ? global.performance.now() : 0;
    global.opportunityMaps = global.opportunityMaps || [];
    global.opportunityMaps.push(api);
    document.documentElement.setAttribute("data-om-ready",
      String(global.opportunityMaps.length));
    return api;
  }

  global.opportunityMap = { render: render, renderIndex: renderIndex, start: start, esc: esc,
                            comuneKey: comuneKey, haversineKm: haversineKm };
})(window);
