// The live view's stylesheet, embedded so the binary serves it offline.

/** CSS of the live view page. */
export const LIVE_VIEW_CSS = `
:root {
  color-scheme: dark;
  --bg: #0d1014;
  --panel: #161b22;
  --panel-edge: #262d37;
  --text: #e6e9ee;
  --muted: #8b95a3;
  --up: #34d399;
  --warn: #fbbf24;
  --down: #f87171;
  --off: #6b7280;
  font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--text); min-height: 100vh; }
.bar {
  display: flex; align-items: center; gap: 1.5rem; padding: 0.7rem 1.4rem;
  border-bottom: 1px solid var(--panel-edge); background: #11151b;
}
.bar h1 { font-size: 1.05rem; font-weight: 650; margin: 0; letter-spacing: 0.01em; }
.bar h1 span { color: var(--muted); font-weight: 400; margin-left: 0.3rem; }
.connection { margin: 0; display: flex; align-items: center; gap: 0.45rem; font-size: 0.85rem; color: var(--muted); }
.dot { width: 0.6rem; height: 0.6rem; border-radius: 50%; background: var(--up); box-shadow: 0 0 0.5rem var(--up); }
body[data-connection="lost"] .dot { background: var(--down); box-shadow: 0 0 0.5rem var(--down); }
body[data-connection="lost"] .connection { color: var(--down); }
nav { margin-left: auto; display: flex; gap: 1rem; font-size: 0.85rem; }
nav a { color: var(--muted); text-decoration: none; }
nav a:hover { color: var(--text); }
.banner {
  display: none; margin: 0; padding: 0.6rem 1.4rem; background: #3b1518; color: #fecaca;
  border-bottom: 1px solid #7f1d1d; font-size: 0.9rem;
}
.banner.static, body[data-connection="lost"] .banner { display: block; }
.grid {
  display: grid; gap: 1rem; padding: 1rem 1.4rem;
  grid-template-columns: repeat(auto-fill, minmax(min(100%, 400px), 1fr));
}
@media (min-width: 900px) {
  /* Up to four tiles: two columns, sized so that two rows of 16:9 pictures fit the window. */
  .grid[data-count="2"], .grid[data-count="3"], .grid[data-count="4"] {
    grid-template-columns: repeat(2, 1fr); margin: 0 auto;
    max-width: max(860px, calc((100vh - 330px) * 16 / 9 + 60px));
  }
}
.empty { display: none; color: var(--muted); }
.grid[data-count="0"] .empty { display: block; }
.tile {
  background: var(--panel); border: 1px solid var(--panel-edge); border-radius: 10px;
  overflow: hidden; cursor: zoom-in; outline: none; display: flex; flex-direction: column;
  transition: border-color 0.15s;
}
.tile:hover, .tile:focus-visible { border-color: #3b4552; }
.tile header { display: flex; align-items: center; gap: 0.6rem; padding: 0.55rem 0.8rem; }
.tile h2 { margin: 0; font-size: 0.95rem; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.decoder { font-size: 0.72rem; color: var(--muted); border: 1px solid var(--panel-edge); border-radius: 4px; padding: 0 0.35rem; }
.decoder:empty { display: none; }
.state {
  margin-left: auto; font-size: 0.72rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.06em;
  padding: 0.12rem 0.5rem; border-radius: 999px; color: #06281c; background: var(--up);
}
.tile[data-state="starting"] .state, .tile[data-state="retrying"] .state { background: var(--warn); color: #2b1d02; }
.tile[data-state="down"] .state { background: var(--down); color: #2c0707; }
.tile[data-state="finished"] .state, .tile[data-state="stopped"] .state { background: var(--off); color: #0d1014; }
.view { position: relative; aspect-ratio: 16 / 9; background: #07090c; }
.view canvas { position: absolute; inset: 0; width: 100%; height: 100%; display: block; }
.overlay {
  position: absolute; inset: 0; margin: 0; display: flex; align-items: center; justify-content: center;
  text-align: center; padding: 1rem; color: var(--muted); font-size: 0.9rem; pointer-events: none;
}
.overlay:empty { display: none; }
.tile[data-state="down"] .overlay, .tile[data-state="retrying"] .overlay {
  color: #fecaca; background: rgba(13, 16, 20, 0.72); font-weight: 500;
}
.tile[data-state="down"] canvas, .tile[data-state="retrying"] canvas,
body[data-connection="lost"] .tile canvas { filter: grayscale(1) brightness(0.55); }
.stats { display: grid; grid-template-columns: repeat(4, auto); justify-content: space-between; margin: 0; padding: 0.55rem 0.8rem 0.7rem; gap: 0.5rem; }
.stats div { min-width: 0; }
.stats dt { font-size: 0.68rem; text-transform: uppercase; letter-spacing: 0.08em; color: var(--muted); }
.stats dd { margin: 0.1rem 0 0; font-size: 1.05rem; font-variant-numeric: tabular-nums; font-weight: 550; white-space: nowrap; }
.tile.enlarged {
  position: fixed; z-index: 20; inset: 3vh 3vw; cursor: zoom-out;
  box-shadow: 0 1rem 4rem rgba(0, 0, 0, 0.7); border-color: #3b4552;
}
.tile.enlarged .view { flex: 1; aspect-ratio: auto; }
body.has-enlarged::after {
  content: ""; position: fixed; inset: 0; z-index: 10; background: rgba(5, 7, 10, 0.78);
}
footer { padding: 0.5rem 1.4rem 1.5rem; color: var(--muted); font-size: 0.78rem; text-align: center; }
`;
