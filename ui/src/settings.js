// The training settings the user is working with: the Train page edits them, the Models page
// sizes its RAM estimates with them. Kept for the session in localStorage.

import { trainSettings } from './backend.js';

const KEY = 'tunedesk.train-settings';

/** The engine's defaults and presets (fetched once). @type {Promise<TrainSettings> | null} */
let fetched = null;

/** @returns {Promise<TrainSettings>} */
export function engineSettings() {
  if (!fetched) fetched = trainSettings();
  return fetched;
}

/**
 * The current settings: {config, val_limit, preset}, the engine's defaults until edited.
 * @returns {Promise<ChosenSettings>}
 */
export async function current() {
  const s = await engineSettings();
  const saved = localStorage.getItem(KEY);
  if (saved) {
    try {
      const chosen = JSON.parse(saved);
      // Settings added since they were saved start at the engine's defaults.
      return { ...chosen, config: { ...structuredClone(s.defaults), ...chosen.config } };
    } catch {
      localStorage.removeItem(KEY);
    }
  }
  return { config: structuredClone(s.defaults), val_limit: s.val_limit, preset: null };
}

/**
 * Saves the current settings.
 * @param {ChosenSettings} settings
 */
export function save(settings) {
  localStorage.setItem(KEY, JSON.stringify(settings));
}
