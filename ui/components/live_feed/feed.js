// The run's live feed in the browser (ui/live_feed.py serves it): one poller per feed address for the whole page,
// shared by every component that follows that run. The stream charts (the curves) and the live panel (the numbers,
// the grid, the class shares and the discriminator view) each put this file in front of their own; the registry
// lives on `window`, so the two components' modules share one poller and one request a second, not one each.
//
// A subscriber has feedAfter() (the newest step it holds, Infinity when it wants no points), optionally
// feedGridAfter() (the step of the sample grid it shows; undefined while it wants none, e.g. scrolled out of view),
// feedQualityAfter() (the newest live-quality step it holds; undefined while it wants none) and feedDviewAfter() (the
// chunk of the discriminator view it shows; undefined while it wants none), and appendFeed(body).

// Once a second: the worker makes a new grid at most that often (views_every_s), and polling twice a second cost the
// browser ~2.5% more of a core on this 2-core machine (renderer 7.9% against 5.8%), taken from training.
const FEED_PERIOD_MS = 1000;
const FEEDS = window.__ganLabFeeds || (window.__ganLabFeeds = new Map()); // address -> {subscribers, timer, inflight}

function feedSubscribe(url, subscriber) {
  let feed = FEEDS.get(url);
  if (!feed) {
    feed = { subscribers: new Set(), timer: null, inflight: false };
    FEEDS.set(url, feed);
    feed.timer = setInterval(() => feedTick(url, feed), FEED_PERIOD_MS);
  }
  feed.subscribers.add(subscriber);
}

function feedUnsubscribe(url, subscriber) {
  const feed = FEEDS.get(url);
  if (!feed) return;
  feed.subscribers.delete(subscriber);
  if (!feed.subscribers.size) feedStop(url, feed);
}

// Whether `subscriber` is in the feed now polling `url`: a feed stops when its run pauses or ends, and the next one
// for that address starts empty, so each subscriber checks for itself, not only that a feed exists.
function feedFollowed(url, subscriber) {
  const feed = FEEDS.get(url);
  return Boolean(feed && feed.subscribers.has(subscriber));
}

// Point `subscriber` at the feed `url` (null: none), keeping its address in subscriber.feedUrl. Asked again with the
// same address it subscribes again only if that feed stopped meanwhile (a pause): every redraw may call it.
function feedFollow(subscriber, url) {
  if (url === subscriber.feedUrl && (!url || feedFollowed(url, subscriber))) return;
  if (subscriber.feedUrl) feedUnsubscribe(subscriber.feedUrl, subscriber);
  subscriber.feedUrl = url || null;
  if (subscriber.feedUrl) feedSubscribe(subscriber.feedUrl, subscriber);
}

function feedStop(url, feed) {
  clearInterval(feed.timer);
  if (FEEDS.get(url) === feed) FEEDS.delete(url);
}

function feedQuery(feed) {
  let after = Infinity;
  let gridAfter = Infinity;
  let wantsGrid = false;
  let qualityAfter = Infinity;
  let wantsQuality = false;
  let dviewAfter = Infinity;
  let wantsDview = false;
  for (const subscriber of feed.subscribers) {
    after = Math.min(after, subscriber.feedAfter());
    const grid = subscriber.feedGridAfter ? subscriber.feedGridAfter() : undefined;
    if (grid !== undefined) {
      wantsGrid = true;
      gridAfter = Math.min(gridAfter, grid);
    }
    const quality = subscriber.feedQualityAfter ? subscriber.feedQualityAfter() : undefined;
    if (quality !== undefined) {
      wantsQuality = true;
      qualityAfter = Math.min(qualityAfter, quality);
    }
    const dview = subscriber.feedDviewAfter ? subscriber.feedDviewAfter() : undefined;
    if (dview !== undefined) {
      wantsDview = true;
      dviewAfter = Math.min(dviewAfter, dview);
    }
  }
  // No chart: a step past any run's, so the answer carries no points.
  let query = `after=${Number.isFinite(after) ? after : 1e300}`;
  if (wantsGrid) query += `&grid_after=${Number.isFinite(gridAfter) ? gridAfter : -1}`;
  if (wantsQuality) query += `&quality_after=${Number.isFinite(qualityAfter) ? qualityAfter : -1}`;
  if (wantsDview) query += `&dview_after=${Number.isFinite(dviewAfter) ? dviewAfter : -1}`;
  return query;
}

async function feedTick(url, feed) {
  if (feed.inflight || document.hidden) return;
  feed.inflight = true;
  try {
    const response = await fetch(`${url}?${feedQuery(feed)}`, { cache: "no-store" });
    if (response.status === 404) {
      feedStop(url, feed); // the run is gone (Reset, a new session): the page's next rerun says so
      return;
    }
    if (!response.ok) return;
    const body = await response.json();
    for (const subscriber of feed.subscribers) subscriber.appendFeed(body);
    // Paused or ended: the page reruns on that change and subscribes again. A viewer's page (keepFollowing) goes
    // on asking, since only the presenter can resume the run and its page must see that.
    if (!body.busy && ![...feed.subscribers].some((subscriber) => subscriber.keepFollowing)) feedStop(url, feed);
  } catch (error) {
    // A dropped request (the server restarting, the tab waking): the next tick asks again.
  } finally {
    feed.inflight = false;
  }
}
