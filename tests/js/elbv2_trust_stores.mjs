// Drives Sluice's trust-store operations with the unchanged AWS SDK for JavaScript v3 (Debian
// 12's botocore predates them): CreateTrustStore from a bundle in the S3-compatible store,
// DescribeTrustStores, tags on the store, DescribeTrustStoreAssociations, ModifyTrustStore,
// GetTrustStoreCaCertificatesBundle (its Location downloaded without credentials),
// DeleteTrustStore, and a missing object's modelled error.
//
// Environment: SLUICE_API_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION (as
// elbv2_sdk.mjs); SLUICE_BUCKET and SLUICE_BUNDLE_KEY: where the CA bundle (one certificate)
// is; SLUICE_BUNDLE_KEY_2: another bundle (two certificates).
//
// Prints one JSON line of results on success; on any failure prints "FAIL: <step>: <why>" to
// stderr and exits 1.
import assert from "node:assert/strict";

import {
  AddTagsCommand,
  CaCertificatesBundleNotFoundException,
  CreateTrustStoreCommand,
  DeleteTrustStoreCommand,
  DescribeTagsCommand,
  DescribeTrustStoreAssociationsCommand,
  DescribeTrustStoresCommand,
  ElasticLoadBalancingV2Client,
  GetTrustStoreCaCertificatesBundleCommand,
  ModifyTrustStoreCommand,
} from "@aws-sdk/client-elastic-load-balancing-v2";

let step = "start";

async function main() {
  const client = new ElasticLoadBalancingV2Client({
    endpoint: process.env.SLUICE_API_ENDPOINT,
    maxAttempts: 1,
  });
  const bucket = process.env.SLUICE_BUCKET;

  step = "CreateTrustStore";
  const created = await client.send(new CreateTrustStoreCommand({
    Name: "sdk-store",
    CaCertificatesBundleS3Bucket: bucket,
    CaCertificatesBundleS3Key: process.env.SLUICE_BUNDLE_KEY,
  }));
  const store = created.TrustStores[0];
  assert.equal(store.Name, "sdk-store");
  assert.equal(store.Status, "ACTIVE");
  assert.equal(store.NumberOfCaCertificates, 1);
  assert.match(store.TrustStoreArn, /^arn:aws:elasticloadbalancing:[^:]+:\d{12}:truststore\/sdk-store\/[0-9a-f]{16}$/);

  step = "DescribeTrustStores";
  const listed = await client.send(new DescribeTrustStoresCommand({ Names: ["sdk-store"] }));
  assert.deepEqual(listed.TrustStores.map((s) => s.TrustStoreArn), [store.TrustStoreArn]);

  step = "tags";
  await client.send(new AddTagsCommand({
    ResourceArns: [store.TrustStoreArn], Tags: [{ Key: "team", Value: "edge" }],
  }));
  const tags = await client.send(new DescribeTagsCommand({ ResourceArns: [store.TrustStoreArn] }));
  assert.deepEqual(tags.TagDescriptions[0].Tags, [{ Key: "team", Value: "edge" }]);

  step = "DescribeTrustStoreAssociations";
  const assoc = await client.send(new DescribeTrustStoreAssociationsCommand({
    TrustStoreArn: store.TrustStoreArn,
  }));
  assert.deepEqual(assoc.TrustStoreAssociations ?? [], []);

  step = "ModifyTrustStore";
  const modified = await client.send(new ModifyTrustStoreCommand({
    TrustStoreArn: store.TrustStoreArn,
    CaCertificatesBundleS3Bucket: bucket,
    CaCertificatesBundleS3Key: process.env.SLUICE_BUNDLE_KEY_2,
  }));
  assert.equal(modified.TrustStores[0].NumberOfCaCertificates, 2);

  step = "GetTrustStoreCaCertificatesBundle";
  const bundle = await client.send(new GetTrustStoreCaCertificatesBundleCommand({
    TrustStoreArn: store.TrustStoreArn,
  }));
  assert.match(bundle.Location, /\/trust-store-content\?.*X-Amz-Signature=[0-9a-f]{64}$/);
  const download = await fetch(bundle.Location);
  assert.equal(download.status, 200);
  const pem = await download.text();
  assert.equal(pem.match(/-----BEGIN CERTIFICATE-----/g).length, 2, pem);

  step = "a missing bundle";
  let caught = null;
  try {
    await client.send(new CreateTrustStoreCommand({
      Name: "sdk-missing", CaCertificatesBundleS3Bucket: bucket,
      CaCertificatesBundleS3Key: "no/such/key.pem",
    }));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof CaCertificatesBundleNotFoundException,
            `not a CaCertificatesBundleNotFoundException: ${caught?.name}: ${caught}`);

  step = "DeleteTrustStore";
  await client.send(new DeleteTrustStoreCommand({ TrustStoreArn: store.TrustStoreArn }));
  const after = await client.send(new DescribeTrustStoresCommand({}));
  assert.deepEqual(after.TrustStores ?? [], []);

  console.log(JSON.stringify({ arn: store.TrustStoreArn, error: caught.name }));
}

main().catch((e) => {
  console.error(`FAIL: ${step}: ${e?.stack ?? e}`);
  process.exit(1);
});
