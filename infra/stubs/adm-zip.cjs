// Bundled in place of adm-zip. cassandra-driver needs it only to open a DataStax Astra "secure connect bundle";
// these functions connect by contact points, so the 37 KiB zip library never runs. Anything that does reach it
// fails loudly.
module.exports = function AdmZip() {
  throw new Error('adm-zip is not bundled: secure connect bundles (DataStax Astra) are not supported here');
};
