// A trained model kept in the browser (IndexedDB): the two files of `model.toFiles()` and a
// few facts for the page to show.
const DB = 'ballast-mnist';
const STORE = 'models';
const KEY = 'latest';

function open() {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
}

async function transact(mode, body) {
  const db = await open();
  try {
    return await new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      const request = body(tx.objectStore(STORE));
      tx.oncomplete = () => resolve(request.result);
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error);
    });
  } finally {
    db.close();
  }
}

/** `record`: `{ modelJson, weights: Uint8Array, savedAt, description }`. */
export function saveModel(record) {
  return transact('readwrite', (store) => store.put(record, KEY));
}

/** The saved record, or undefined. */
export function loadSavedModel() {
  return transact('readonly', (store) => store.get(KEY));
}
